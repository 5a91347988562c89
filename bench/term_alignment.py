"""Could cross-attention place markup instead of slots (issue 15)? Measured on terms.

    python bench/term_alignment.py [--model models/hanyi-en-zh] [--data ../shared/data]

Markdown and HTML sent a sentence's inline markup through the model as slot numbers
(documents/markup.py, now ``--inline slots``); that costs tokens, and a model that garbles
a slot makes the sentence go through again. Bergamot instead translates the plain text and
puts the tags back by alignment (documents/align.py, now the default). This asks how good
our model's cross-attention is for that,
on something with a known answer: the 100 newsdev2017 sentences of bench/glossary.py,
translated *without* the glossary (PyTorch engine, attention kept). Wherever the output
holds the glossary's Chinese for an English term, the term's source pieces are aligned to
output pieces — either each output piece to its most-attended source piece ("t2s") or
each source piece to its most-attending output piece ("s2t") — under each layer's
head-mean, all layers' mean, and every single head — or, as documents/align.py places
markup ("run"), the contiguous run of output pieces that put more than half of their
attention on the term's pieces, the run with the largest sum of (share - 0.5). Reported
per way: how often the aligned output characters overlap the term's Chinese
("overlap"), and how often they also lie within it, one character either side allowed
("tight": a tag put there would wrap the right word).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from glossary import GLOSSARY, sentences_with_terms  # noqa: E402

from hanyi.documents.align import SHARE, best_run  # noqa: E402
from hanyi.inference import Translator  # noqa: E402


def piece_words(pieces: list[str]) -> list[int]:
    """The word index of each SentencePiece piece (``▁`` starts a word)."""
    word, out = -1, []
    for piece in pieces:
        word += piece.startswith("▁") or word < 0
        out.append(word)
    return out


def char_spans(pieces: list[str]) -> list[range]:
    """The characters of the joined output (``▁`` removed) that each piece wrote."""
    spans, at = [], 0
    for piece in pieces:
        n = len(piece.replace("▁", ""))
        spans.append(range(at, at + n))
        at += n
    return spans


def ways(att):
    """(name, (T, S) weights): each layer's head-mean, all layers' mean, every head."""
    layers, heads = att.shape[:2]
    yield "mean of all", att.mean((0, 1))
    for layer in range(layers):
        yield f"layer {layer + 1} mean", att[layer].mean(0)
    for layer in range(layers):
        for head in range(heads):
            yield f"layer {layer + 1} head {head}", att[layer, head]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(REPO / "models" / "hanyi-en-zh"))
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    translator = Translator.load(args.model, engine="torch")
    cases = sentences_with_terms(Path(args.data), 100)
    outputs = translator.translate([s for s, _ in cases], need_attention=True)
    tally: dict[tuple[str, str], list[int]] = {}
    for (_, terms), out in zip(cases, outputs, strict=True):
        src, tgt = out.src_tokens, out.tgt_tokens[:-1]  # without </s>
        text, spans = "".join(p.replace("▁", "") for p in tgt), char_spans(tgt)
        words = [re.sub(r"\W", "", w).lower() for w in "".join(src).replace("▁", " ").split()]
        of_word = piece_words(src)
        for term in terms:
            at = text.find(GLOSSARY[term])
            index = [i for i, w in enumerate(words) if re.fullmatch(rf"{term}(s|es)?", w)]
            if at < 0 or not index:
                continue
            mine = [i for i, w in enumerate(of_word) if w == index[0]]
            truth = set(range(at, at + len(GLOSSARY[term])))
            for name, att in ways(out.attention):
                att = att[:len(tgt), :len(src)]  # (T, S)
                t2s = [t for t, s in enumerate(att.argmax(-1).tolist()) if s in mine]
                s2t = [int(att[:, s].argmax()) for s in mine]
                share = att / att.sum(-1, keepdim=True)  # documents/align.py's way: the
                a, b = best_run((share[:, mine].sum(-1) - SHARE).tolist())  # best run
                for way, picked in (("t2s", t2s), ("s2t", s2t), ("run", range(a, b))):
                    chars = {c for t in picked for c in spans[t]}
                    row = tally.setdefault((name, way), [0, 0, 0])
                    row[0] += 1
                    row[1] += bool(chars & truth)
                    row[2] += bool(chars & truth) and chars <= truth | {at - 1, at + len(truth)}
    print(f"{len(cases)} sentences; term occurrences whose Chinese the output holds: "
          f"{next(iter(tally.values()))[0] if tally else 0}")
    for (name, way), (n, overlap, tight) in sorted(tally.items(), key=lambda kv: -kv[1][2]):
        print(f"{name:18s} {way}: overlap {overlap}/{n} ({100 * overlap / n:.0f}%), "
              f"tight {tight}/{n} ({100 * tight / n:.0f}%)")


if __name__ == "__main__":
    main()
