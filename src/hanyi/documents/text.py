"""Plain text: lines, paragraphs and sentences, with nothing cut off.

Every text is split into lines (``\\n``; blank lines and the whitespace around a line are
kept exactly), every line into sentences (tokenization/sentences.py), and a sentence that is
still longer than the model's ``decode.max_input_tokens`` into chunks at clause boundaries
(``; `` and ``, ``) or, failing that, between words — so no input is ever truncated. All
units of all texts go to the Translator in one call: it sorts them by length and batches
them, so a long document is one well-filled batch after another. Translations are joined
without spaces for Chinese (中文句子之间不加空格) and with one space for English.

The result per text is one :class:`~hanyi.inference.Translation`: its text is the joined
translation; its score is the mean of the units' scores, its confidence the lowest of theirs
(a document is as trustworthy as its weakest sentence); it is ``passed_through`` only if
every unit was. N-best alternatives and attention weights exist only for a text that is one
unit (one sentence); for longer texts they are left out.

A unit may hold inline-markup marks (documents/align.py: private-use characters around
an element's words): they never reach the model; the unit is translated with attention
weights and they come back where its words went.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from hanyi.config import DecodeConfig
from hanyi.decoding import Cancel
from hanyi.documents.align import MARKS, around, place, unmark
from hanyi.documents.protect import Protected, protect, restore
from hanyi.inference import Translation, Translator
from hanyi.tokenization.sentences import split_en, split_zh

SPLITTERS = {"en": split_en, "zh": split_zh}
JOINERS = {"zh": "", "en": " "}
_CLAUSE = re.compile(r"(?<=[;,；，])\s*")


@dataclass
class Line:
    lead: str  # whitespace before the text of the line
    units: list[int]  # indexes into the flat list of units; [] for a blank line
    trail: str  # whitespace after it ("\r" of a CRLF file included)
    slots: dict[str, str] = field(default_factory=dict)  # documents/protect.py


def chunks(sentence: str, too_long: Callable[[str], bool]) -> list[str]:
    """``sentence`` cut so that no piece is ``too_long``: at clause boundaries first, then
    between words; a single word that is still too long stays whole (the Translator cuts
    it, with a warning: there is no better place to cut)."""
    if not too_long(sentence):
        return [sentence]
    for pieces in (_CLAUSE.split(sentence), sentence.split()):
        if len(pieces) < 2:
            continue
        out, current = [], ""
        for piece in pieces:
            joined = f"{current} {piece}".strip()
            if current and too_long(joined):
                out.append(current)
                current = piece
            else:
                current = joined
        out.append(current)
        return [c for piece in out for c in chunks(piece, too_long)] if len(out) > 1 else out
    return [sentence]


def segment(texts: list[str], language: str, too_long: Callable[[str], bool],
            keep: tuple[str, ...] = (), glossary: dict[str, str] | None = None,
            fallback: Callable[[str], dict[str, str]] | None = None
            ) -> tuple[list[str], list[list[Line]]]:
    """The units to translate, and for each text its lines pointing at them. Spans that
    must not be translated, glossary terms and a line's ``fallback`` words (the lexicon
    fallback: inference/lexicon.py) become slots first (documents/protect.py)."""
    split = SPLITTERS[language]
    units: list[str] = []
    plans = []
    for text in texts:
        plan = []
        for line in text.split("\n"):
            core = line.strip()
            lead = line[:len(line) - len(line.lstrip())]
            trail = line[len(line.rstrip()):] if core else ""
            protected = (protect(core, keep, glossary, fallback(core) if fallback else None)
                         if core else Protected(core))
            indexes = []
            for sentence in split(protected.text):
                for piece in chunks(sentence, too_long):
                    indexes.append(len(units))
                    units.append(piece)
            plan.append(Line(lead, indexes, trail, protected.slots))
        plans.append(plan)
    return units, plans


def assemble(plan: list[Line], results: list[Translation], joiner: str) -> Translation:
    """One text's translation from the translations of its units."""
    text = "\n".join(line.lead + restore(joiner.join(results[i].text for i in line.units),
                                          line.slots)[0] + line.trail for line in plan)
    used = [results[i] for line in plan for i in line.units]
    if len(used) == 1:  # one sentence: everything the Translator gave, layout around it
        slots = {k: v for line in plan for k, v in line.slots.items()}
        alternatives = [(restore(a, slots)[0], s, c) for a, s, c in used[0].alternatives]
        return Translation(**{**used[0].__dict__, "text": text,
                              "alternatives": alternatives})
    if not used:
        return Translation(text)
    return Translation(text, score=sum(t.score for t in used) / len(used),
                       confidence=min(t.confidence for t in used),
                       token_log_prob=min(t.token_log_prob for t in used),
                       passed_through=all(t.passed_through for t in used))


def translate_texts(translator: Translator, texts: list[str], decode: DecodeConfig | None = None,
                    need_attention: bool = False, cancel: Cancel | None = None,
                    keep: tuple[str, ...] = (), glossary: dict[str, str] | None = None
                    ) -> list[Translation]:
    """Translate texts of any length and layout (see the module docstring); one
    Translation per text, in order. ``keep``: terms left as they are; ``glossary``:
    English term -> the Chinese it must become (documents/protect.py)."""
    cfg = decode or translator.decode_cfg
    limit = cfg.max_input_tokens
    units, plans = segment(texts, translator.source_language,
                           lambda s: len(translator.src_vocab.encode(translator.normalize(s)))
                           > limit, keep, glossary, translator.fallback_terms(cfg))
    results = _translate_units(translator, units, cfg, need_attention, cancel)
    joiner = JOINERS[translator.target_language]
    return [assemble(plan, results, joiner) for plan in plans]


def _translate_units(translator: Translator, units: list[str], cfg: DecodeConfig,
                     need_attention: bool, cancel: Cancel | None) -> list[Translation]:
    """The Translator's translations of ``units``. A unit holding inline-markup marks
    (documents/align.py) is translated without them, with attention weights, and gets them
    back where its words went. All units go in one call, so the marked ones share the
    others' length-sorted batches; only they ask for attention (and bypass the cache)."""
    marked = {i: unmark(u) for i, u in enumerate(units) if MARKS.search(u)}
    texts = [marked[i].text if i in marked else u for i, u in enumerate(units)]
    wants = [need_attention or (i in marked and translator.aligns) for i in range(len(units))]
    results = translator.translate(texts, cfg, need_attention=wants, cancel=cancel)
    for i, unit in marked.items():  # new objects: a result may be cached
        result = results[i]
        if result.passed_through:  # the source unchanged: its marks where they were
            text = units[i]
        elif result.text:
            text = place(result.text, unit, result.src_tokens, result.tgt_tokens[:-1],
                         result.attention)
        else:
            text = around(result.text, unit)
        results[i] = replace(result, text=text,
                             attention=result.attention if need_attention else None)
    return results
