"""Inline markup placed by cross-attention: marks in, the model's attention puts them back.

The other way to keep a sentence's inline markup (``<b>…</b>``, ``**…**``, a link's text)
besides slot numbers (documents/markup.py): the model translates the sentence *without* it,
and each element's start and end go around the output words that the element's source words
were translated into, as the decoder's cross-attention says. This is what Firefox
Translations (Bergamot) does for HTML. Nothing extra reaches the model — no slot tokens to
decode, none to garble, no second decode — so a document with markup translates as fast
as its plain sentences.

The caller marks an element in the source text with two characters of Unicode's private
use area (never in real text): ``start_mark(k)`` before its first character and
``end_mark(k)`` after its last. :func:`unmark` takes them out and remembers where they
stood (as a count of the characters other than spaces before each: SentencePiece's pieces
say which of those characters each stands for); after translation :func:`place` writes
them into the output:

    Click \\ue000here\\ue001 to continue.  ->  source characters [5, 9) are the element
    ▁点击 这里 以 继续 。                    ->  点击\\ue000这里\\ue001以继续。

Which output pieces a source span went to (a choice measured on the 62 glossary terms of
bench/term_alignment.py, the model shipped 2026-11-27): the weights are the mean over heads
of the last decoder layer's cross-attention (what CTranslate2 returns, export/spec.py);
for every output piece, the share of its attention that falls on the span's source
pieces (every piece the span touches); the element wraps the *contiguous* run of output
pieces whose shares, each less one half, add up to the most (the maximum-sum subarray of
``share - 0.5``), less punctuation at its edges that the span does not have there. On
those terms the run lay within the term's Chinese (one character either side allowed) 51
times of 62 (82%), and was exactly it 48 times (45 with the punctuation kept: counted once
on the same outputs, not by the benchmark); taking each source piece's most-attending
output piece instead (the usual argmax) 41 and 38.

An element whose start and end marks fall into different units of a text (a long
sentence cut at a clause) keeps its span to the unit's edge. When there is nothing to
align with — no attention weights, an output whose pieces cannot be matched to its
characters, source pieces that are not the text's characters (normalising changed them)
— the marks go around the whole output (starts first, ends last): the markup is widened,
never lost.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import torch

FIRST_MARK, LAST_MARK = 0xE000, 0xF8FF  # Unicode's private use area (BMP)
MARKS = re.compile("[\ue000-\uf8ff]")
MAX_ELEMENTS = (LAST_MARK - FIRST_MARK + 1) // 2
SHARE = 0.5  # an output piece belongs to a span when more than this of its attention is on it


def start_mark(k: int) -> str:
    return chr(FIRST_MARK + 2 * k)


def end_mark(k: int) -> str:
    return chr(FIRST_MARK + 2 * k + 1)


def is_start(mark: str) -> bool:
    return (ord(mark) - FIRST_MARK) % 2 == 0


def marked(text: str, elements: list[tuple[str, str]]) -> str:
    """``text`` with each element's (start slot, end slot) numbers replaced by its two
    marks: element k gets ``start_mark(k)`` and ``end_mark(k)``."""
    for k, (start, end) in enumerate(elements[:MAX_ELEMENTS]):
        for slot, mark in ((start, start_mark(k)), (end, end_mark(k))):
            text = re.sub(rf"(?<!\d){slot}(?!\d)", mark, text, count=1)
    return text


def unmarked(translation: str, elements: list[tuple[str, str]], tight: bool) -> str:
    """The marks of :func:`marked` back as their slot numbers, with spaces around (inline
    markup takes them off where they do not belong; ``tight``: Chinese, else runs of spaces
    are made one). A mark that is not an element's (a private-use character of the
    user's own) stays as it is."""
    if not MARKS.search(translation):
        return translation
    numbers = {}
    for k, (start, end) in enumerate(elements[:MAX_ELEMENTS]):
        numbers[start_mark(k)], numbers[end_mark(k)] = start, end
    out = MARKS.sub(lambda m: f" {numbers[m.group()]} " if m.group() in numbers
                    else m.group(), translation)
    return out if tight else " ".join(out.split())


@dataclass
class Marked:
    text: str  # the text without its marks (whitespace collapsed)
    marks: list[tuple[str, int]] = field(default_factory=list)  # (mark, characters before)
    length: int = 0  # characters of the text other than spaces


def unmark(text: str) -> Marked:
    """``text`` without its marks, and for each mark where it stood: how many characters
    other than spaces come before it."""
    if not MARKS.search(text):
        return Marked(text)
    marks, count = [], 0
    for ch in text:
        if MARKS.fullmatch(ch):
            marks.append((ch, count))
        elif not ch.isspace():
            count += 1
    return Marked(" ".join(MARKS.sub("", text).split()), marks, count)


def char_spans(pieces: list[str], text: str) -> list[range] | None:
    """The characters of ``text`` (the detokenised output) each piece wrote: its
    characters other than spaces, found in order (detokenising only removes spaces).
    None when they cannot be found (an unknown piece, a text changed after decoding)."""
    spans, at = [], 0
    for piece in pieces:
        start = None
        for ch in piece.replace("▁", " "):
            if ch.isspace():
                continue
            while at < len(text) and text[at].isspace():
                at += 1
            if at >= len(text) or text[at] != ch:
                return None
            start = at if start is None else start
            at += 1
        spans.append(range(at, at) if start is None else range(start, at))
    return spans if all(c.isspace() for c in text[at:]) else None


def best_run(values: list[float]) -> tuple[int, int]:
    """[a, b): the contiguous run with the largest sum (Kadane); a single item if all
    are negative."""
    best, best_span, total, start = float("-inf"), (0, 0), 0.0, 0
    for i, value in enumerate(values):
        if total <= 0:
            total, start = value, i
        else:
            total += value
        if total > best:
            best, best_span = total, (start, i + 1)
    return best_span


def source_chars(pieces: list[str]) -> list[range]:
    """The characters other than spaces of the source text that each piece stands for (a
    control piece such as ``</s>`` for none)."""
    spans, at = [], 0
    for piece in pieces:
        if re.fullmatch(r"<[a-z/]+>", piece):  # one unknown character, or none
            n = piece == "<unk>"
        else:
            n = len("".join(piece.replace("▁", " ").split()))
        spans.append(range(at, at + n))
        at += n
    return spans


def place(text: str, marked: Marked, src_pieces: list[str], tgt_pieces: list[str],
          attention: torch.Tensor | None) -> str:
    """``text`` (the translation of ``marked.text``) with ``marked``'s marks written in.
    ``tgt_pieces`` without ``</s>``; ``attention``: (L, H, T, S) cross-attention of the
    output, or None (then the marks go around the whole text)."""
    if not marked.marks:
        return text
    source = source_chars(src_pieces)
    chars = char_spans(tgt_pieces, text) if attention is not None else None
    if chars is None or not tgt_pieces or not source or source[-1].stop != marked.length:
        return around(text, marked)  # (normalising changed the characters, an <unk>...)
    weights = attention[-1].float().mean(0)[:len(tgt_pieces), :len(src_pieces)]  # (T, S)
    share = weights / weights.sum(-1, keepdim=True).clamp_min(1e-9)
    found: dict[tuple[int, int], tuple[int, int]] = {}
    inserts = []  # (character, order at that character, mark)
    letters = "".join(marked.text.split())  # the source characters the offsets count
    for mark, span in _mark_spans(marked).items():
        if span not in found:
            found[span] = _target_chars(share, source, *span, chars, text, letters)
        a, b = found[span]
        if a == b:  # an empty element: its start, then its end, between the others
            inserts.append((a, (1, ord(mark) // 2, not is_start(mark)), mark))
        elif is_start(mark):
            inserts.append((a, (2, -b, 0), mark))  # at one character: ends, then starts,
        else:  # the outer element's start first and the inner one's end first
            inserts.append((b, (0, -a, 0), mark))
    out, at = [], 0
    for pos, _, mark in sorted(inserts):
        out += [text[at:pos], mark]
        at = pos
    return "".join(out) + text[at:]


def _punctuation(chars: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PS" for ch in chars)


def around(text: str, marked: Marked) -> str:
    """The marks around the whole text: starts before it, ends after it (source order)."""
    starts = "".join(m for m, _ in marked.marks if is_start(m))
    ends = "".join(m for m, _ in marked.marks if not is_start(m))
    return starts + text + ends


def _mark_spans(marked: Marked) -> dict[str, tuple[int, int]]:
    """Each mark's element as source characters [first, last): an element whose other
    mark is not in this text runs to the text's edge."""
    at = dict(marked.marks)
    spans = {}
    for mark, where in marked.marks:
        if is_start(mark):
            end = at.get(chr(ord(mark) + 1), marked.length)
            spans[mark] = (where, max(where, end))
        else:
            start = at.get(chr(ord(mark) - 1), 0)
            spans[mark] = (min(start, where), where)
    return spans


def _target_chars(share: torch.Tensor, source: list[range], first: int, last: int,
                  chars: list[range], text: str, letters: str) -> tuple[int, int]:
    """[a, b): the output characters of ``text`` that source characters [first, last)
    of ``letters`` became (every source piece they touch counts; punctuation at the run's
    edges is left outside unless the span has it there too). An empty element stands right
    after what the source piece before it became."""
    if first == last:
        before = [s for s, span in enumerate(source) if len(span) and span.stop <= first]
        if not before:
            return 0, 0
        end = _target_chars(share, source, source[before[-1]].start, first, chars, text,
                            letters)[1]
        return end, end
    pieces = [s for s, span in enumerate(source) if span.start < last and span.stop > first]
    mass = share[:, pieces].sum(-1) - SHARE  # (T,)
    a, b = best_run(mass.tolist())
    written = [chars[t] for t in range(a, b) if len(chars[t])]
    if not _punctuation(letters[first]):  # "因此，政府" for "government": not the comma
        while len(written) > 1 and _punctuation(text[written[0].start:written[0].stop]):
            written.pop(0)
    if not _punctuation(letters[last - 1]):
        while len(written) > 1 and _punctuation(text[written[-1].start:written[-1].stop]):
            written.pop()
    if not written:  # only "▁" pieces: the characters after them
        at = next((chars[t].start for t in range(b, len(chars)) if len(chars[t])),
                  chars[-1].stop)
        return at, at
    return written[0].start, written[-1].stop
