"""Inline markup inside a sentence: kept through translation as numbered slots or marks.

Two ways, chosen by ``inline``: ``"align"`` (the default) sends an element — a start and an
end tag, ``<b>…</b>``, ``**…**``, a link — to the model as nothing at all and puts it back
where the model's cross-attention says its words went (documents/align.py: no extra
tokens, nothing to garble, no second decode); ``"slots"`` sends it as two slot numbers the
model copies, as below. Lone tags (``<br>``, ``<img>``, a code span) are slots either way.
On 100 news sentences with one bold word each the shipped model's attention put the bold
on exactly the word's Chinese 44 times of 57 and within a character of it 46 times; its
slots came back in place 2 times and widened to the whole sentence 42 times
(bench/markup_placement.py, docs/RESULTS.md).

A block of a Markdown or HTML document (a paragraph, a heading, a list item, a table cell)
is a list of *pieces*: :class:`Text` to translate and :class:`Tag` markup to keep as it is
(``<b>``, ``</a>``, ``*``, ``](https://…)``, an image, a code span). The block goes to the
model as one text in which every Tag is a slot: a number the text does not otherwise
contain, the same device as documents/protect.py (our model copies numbers reliably):

    Click <a href="/x">here</a> to <b>continue</b>.  ->  Click 7301 here 7302 to 7303 continue 7304.
    点击7301这里7302以7303继续7304。                   ->  点击<a href="/x">这里</a>以<b>继续</b>。

Markup that encloses the whole block (``<p><b>…</b></p>``, ``**…**``) and markup at its
edges never reaches the model: it is peeled off first and put back around the translation.

A block goes to the model sentence by sentence: its text is cut into *segments*, one
sentence each (sentences an element spans stay in one segment), all segments of the
document are the units of one call, and their translations are joined the target
language's way (no spaces in Chinese). Each segment's translation is checked on its own.

When the model drops a slot, its markup is put back around the translated segment:

* an element (a start and an end tag) whose slots did not both come back, in order and
  well nested, is kept *around the whole translated sentence*: its markup is never lost,
  only widened;
* a lone tag (``<br>``, ``<img>``, a code span) is appended at the end of the sentence, as
  protect.py does for a URL; a Markdown hard line break is left out instead, since at the
  end of a paragraph it would change the document's structure.

An element's start slot written twice and its end slot not at all (or the other way round:
"7301 A 7302" -> "7301 甲 7301", the shipped model's usual slip) is read as start and end.
Where the model *garbles* a slot ("7301" -> "730130" or "73": a number the sentence does
not have that is part of a slot or contains one), writes one twice or writes another
sentence's, that sentence cannot be trusted with its markup: it alone is translated again
without its slots (one more call for all such sentences of the document), and their markup
goes around it as above. Other numbers the source does not have are the model's to write
("eight" -> "8"). (Whole blocks used to be translated again, and for any new number: with
the shipped model that decoded about a third of a news document twice.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from hanyi.data.slots import FIRST_SLOT
from hanyi.documents.align import marked, unmarked
from hanyi.documents.text import JOINERS, SPLITTERS

_WORD = re.compile(r"[^\W\d_]")  # a letter: a block without one is not translated
_SPACE = re.compile(r"\s+")
INLINE = ("align", "slots")  # how an element's markup goes through the model


@dataclass(eq=False)
class Text:
    value: str  # what it says (entities and escapes decoded)
    raw: str  # as written in the source (kept when the block is not translated)


@dataclass(eq=False)
class Tag:
    raw: str  # the markup as it is written out (an HTML tag's translated alt included)
    pair: int = -1  # an element's start and end tag share a number >= 0; -1: a lone tag
    line_break: bool = False  # no spaces around it; left out when the model drops its slot
    name: str = ""  # for pairing (HTML): "b" for <b>, "/b" for </b>
    # Markdown's * _ ~~ delimiters: a word right outside them gets a space between where
    # CommonMark would not see them as emphasis otherwise ("文字**“引用”**" is not bold;
    # "文字 **“引用”**" is; "文字**发布**了" is): see _needs_space
    spaced: bool = False


Piece = Text | Tag


@dataclass
class Block:
    head: list[Piece]  # markup and whitespace before the text, kept outside the model
    core: list[Piece]
    tail: list[Piece]
    text: str | None = None  # what the model translates (None: nothing to translate)
    slots: dict[str, Tag] = field(default_factory=dict)
    segments: list[Segment] = field(default_factory=list)  # its sentences, once translated


@dataclass
class Segment:
    """One sentence of a block's text (or a few, where an element spans them), translated
    on its own: a dropped slot's markup is widened to the segment, not the block."""

    text: str
    slots: dict[str, Tag]  # the block's slots that stand in this text
    translation: str = ""


def plan(pieces: list[Piece]) -> Block:
    """Peel the edges off ``pieces`` and give the rest one text with slots."""
    pieces = [p for p in pieces if not (isinstance(p, Text) and not p.value and not p.raw)]
    pairs: dict[int, int] = {}
    for piece in pieces:
        if isinstance(piece, Tag) and piece.pair >= 0:
            pairs[piece.pair] = pairs.get(piece.pair, 0) + 1
    for piece in pieces:  # an element needs both its tags in the block
        if isinstance(piece, Tag) and pairs.get(piece.pair) not in (None, 2):
            piece.pair = -1
    head, core, tail = peel(list(pieces))
    block = Block(head, core, tail)
    if not any(isinstance(p, Text) and _WORD.search(p.value) for p in core):
        return block
    taken = set(re.findall(r"\d+", "".join(p.value for p in core if isinstance(p, Text))))
    number, parts = FIRST_SLOT, []
    for piece in core:
        if isinstance(piece, Text):
            value = _SPACE.sub(" ", piece.value)
            if parts and parts[-1][-1:].isdigit() and value[:1].isalnum():
                parts.append(" ")  # "7301here" would be one number-word to the model
            parts.append(value)
            continue
        while str(number) in taken:
            number += 1
        slot = str(number)
        taken.add(slot)
        block.slots[slot] = piece
        if parts and parts[-1][-1:].isalnum():
            parts.append(" ")
        parts.append(slot)
    block.text = _SPACE.sub(" ", "".join(parts)).strip()
    return block


def peel(core: list[Piece]) -> tuple[list[Piece], list[Piece], list[Piece]]:
    """(head, core, tail): whitespace, lone tags and enclosing elements moved off the
    edges of ``core``."""
    head: list[Piece] = []
    tail: list[Piece] = []
    while core:
        first, last = core[0], core[-1]
        if isinstance(first, Text) and first.value != first.value.lstrip():
            lead = len(first.raw) - len(first.raw.lstrip())
            head.append(Text(first.value[:len(first.value) - len(first.value.lstrip())],
                             first.raw[:lead]))
            rest = Text(first.value.lstrip(), first.raw[lead:])
            core[0:1] = [rest] if rest.value else []
        elif isinstance(last, Text) and last.value != last.value.rstrip():
            keep = len(last.raw.rstrip())
            tail.insert(0, Text(last.value[len(last.value.rstrip()):], last.raw[keep:]))
            rest = Text(last.value.rstrip(), last.raw[:keep])
            core[-1:] = [rest] if rest.value else []
        elif isinstance(first, Tag) and first.pair < 0:
            head.append(core.pop(0))
        elif isinstance(last, Tag) and last.pair < 0:
            tail.insert(0, core.pop())
        elif (isinstance(first, Tag) and isinstance(last, Tag) and len(core) > 1
              and first.pair == last.pair):
            head.append(core.pop(0))
            tail.insert(0, core.pop())
        else:
            break
    return head, core, tail


def garbled(sentence: str, translation: str, slots: dict[str, Tag]) -> bool:
    """Did the model garble a slot of the block in this sentence's translation: write one
    twice, write one the sentence does not have, or write a number the sentence does not
    have that is part of a slot or contains one ("7301" -> "730130", "73")? A dropped slot
    is fine: :func:`fill` widens its markup."""
    mine = set(re.findall(r"\d+", sentence))
    numbers = re.findall(r"\d+", translation)
    for number in numbers:
        if number in slots:
            if number not in mine or numbers.count(number) > 1:
                return True
        elif number not in mine and any(
                s in number or (len(number) > 1 and number in s) for s in slots):
            return True
    return False


def mended(translation: str, slots: dict[str, Tag]) -> str:
    """``translation`` (of a text whose slots are ``slots``) with the model's usual slip on
    an element undone: its start slot written twice and its end slot not at all ("7301 A
    7302" -> "7301 甲 7301"), or the end twice and the start not at all. The two are read
    as the start and the end."""
    numbers = re.findall(r"\d+", translation)
    for start, end in elements(slots):
        if numbers.count(start) == 2 and end not in numbers:
            at = [m.start() for m in re.finditer(rf"(?<!\d){start}(?!\d)", translation)][1]
            translation = translation[:at] + end + translation[at + len(start):]
        elif numbers.count(end) == 2 and start not in numbers:
            translation = re.sub(rf"(?<!\d){end}(?!\d)", start, translation, count=1)
    return translation


def without_slots(sentence: str, slots: dict[str, Tag]) -> str:
    """The sentence with the block's slot numbers (and the space before each) taken out."""
    if not slots:
        return sentence
    pattern = r" ?(?<!\d)(?:" + "|".join(map(re.escape, slots)) + r")(?!\d)"
    return _SPACE.sub(" ", re.sub(pattern, "", sentence)).strip()


def segments(block: Block, split: Callable[[str], list[str]]) -> list[Segment]:
    """The block's text cut into sentences; sentences an element spans stay together."""
    out: list[Segment] = []
    open_pairs: set[int] = set()
    for sentence in split(block.text or "") or [block.text or ""]:
        mine = {n: block.slots[n] for n in re.findall(r"\d+", sentence) if n in block.slots}
        if open_pairs:  # an element began in the segment before and has not ended
            out[-1].text += " " + sentence
            out[-1].slots.update(mine)
        else:
            out.append(Segment(sentence, mine))
        for tag in mine.values():
            if tag.pair >= 0:
                open_pairs ^= {tag.pair}
    return out


def _joiner(tight: bool) -> str:
    """How sentences are joined: ``tight`` is English to Chinese (no spaces), else Chinese
    to English, hanyi's other direction."""
    return JOINERS["zh" if tight else "en"]


def translate_blocks(units: list[str], blocks: list[tuple[Block, int]],
                     translate: Callable[[list[str]], list[str]], tight: bool = True,
                     inline: str = "align") -> list[str]:
    """Translate all ``units`` in one call, a block's text segment by segment (its
    ``segments`` get their translations); then the segments whose slots came back garbled,
    once more in one call, without their slots: their markup then goes around the segment
    (see the module docstring) instead of garbled numbers staying in the text. ``tight``:
    English to Chinese (else Chinese to English, hanyi's other direction), which says how
    sentences are split and joined. ``inline``: how elements (a start and an end tag) go
    through the model — ``"align"``: as marks the model never sees, placed back by its
    attention (documents/align.py); ``"slots"``: as slot numbers it copies. Lone tags are
    slots either way. Returns a translation per unit."""
    if inline not in INLINE:
        raise ValueError(f"inline must be one of {', '.join(INLINE)}, not {inline!r}")
    split, joiner = SPLITTERS["en" if tight else "zh"], _joiner(tight)
    block_of = {unit: block for block, unit in blocks}
    texts: list[str] = []
    asked: list[Segment] = []  # the segment of each text (a unit that is not a block: None)
    for n, unit in enumerate(units):
        block = block_of.get(n)
        if block is None:
            texts.append(unit)
            asked.append(None)
            continue
        block.segments = segments(block, split)
        for segment in block.segments:
            if _WORD.search(without_slots(segment.text, segment.slots)):
                texts.append(marked(segment.text, elements(segment.slots))
                             if inline == "align" else segment.text)
                asked.append(segment)
            else:  # nothing to translate: its markup stays as it is
                segment.translation = segment.text
    out = translate(texts) if texts else []
    failed = []
    for k, segment in enumerate(asked):
        if segment is not None:
            out[k] = mended(unmarked(out[k], elements(segment.slots), tight),
                             segment.slots)
            if garbled(segment.text, out[k], segment.slots):
                failed.append(k)
    if failed:
        again = translate([without_slots(texts[k], asked[k].slots) for k in failed])
        for k, translation in zip(failed, again, strict=True):
            out[k] = unmarked(translation, elements(asked[k].slots), tight)
    for k, segment in enumerate(asked):
        if segment is not None:
            segment.translation = out[k]
    plain = iter(out[k] for k, segment in enumerate(asked) if segment is None)
    return [joiner.join(s.translation for s in block_of[n].segments) if n in block_of
            else next(plain) for n in range(len(units))]


def raw_of(pieces: list[Piece]) -> str:
    return "".join(p.raw for p in pieces)


def render(block: Block, escape: Callable[[str], str], tight: bool) -> str:
    """The block written out: its segments' translations (escaped, slots replaced by their
    markup; a dropped slot's markup widened to its segment) or, when it was not translated,
    its source as it was."""
    if block.text is None or not block.segments:
        middle = raw_of(block.core)
    else:
        middle = _joiner(tight).join(fill(s.translation, s.slots, escape, tight)
                             for s in block.segments)
    return raw_of(block.head) + middle + raw_of(block.tail)


def fill(translation: str, slots: dict[str, Tag], escape: Callable[[str], str],
         tight: bool) -> str:
    """Put the markup back into ``translation``; ``tight`` (a Chinese translation): no
    spaces around the markup."""
    if not slots:
        return escape(translation)
    pattern = re.compile(r"(?<!\d)(" + "|".join(map(re.escape, slots)) + r")(?!\d)")
    found: dict[str, int] = {}
    for match in pattern.finditer(translation):
        found.setdefault(match.group(), match.start())
    placed, wrapped = _accepted_pairs(slots, found)
    placed |= {s for s, tag in slots.items() if tag.pair < 0 and s in found}
    starts, ends = _element_tags(slots)
    out: list[str] = []
    used: set[str] = set()
    parts = pattern.split(translation)  # text, slot, text, ..., text
    for i, part in enumerate(parts):
        if i % 2:  # a slot
            if part in placed and part not in used:
                tag = slots[part]
                if (tag.spaced and part in starts and out and re.search(r"\w$", out[-1])
                        and _needs_space(tag, parts[i + 1].lstrip()[:1])):
                    out.append(" ")
                out.append(tag.raw)
                used.add(part)
            continue
        # no space just inside an element ("<b> x</b>" is not "<b>x</b>"); in Chinese none
        # around any markup (the spaces were ours, to keep the numbers apart from words)
        if i and (tight or parts[i - 1] in starts or slots[parts[i - 1]].line_break):
            part = part.lstrip()
        if i < len(parts) - 1 and (tight or parts[i + 1] in ends
                                   or slots[parts[i + 1]].line_break):
            part = part.rstrip()
        if i and parts[i - 1] in ends and parts[i - 1] in used and slots[parts[i - 1]].spaced \
                and re.match(r"\w", part) \
                and _needs_space(slots[parts[i - 1]], parts[i - 2].rstrip()[-1:]):
            part = " " + part
        out.append(escape(part))
    lost = [tag.raw for s, tag in slots.items()
            if tag.pair < 0 and s not in found and not tag.line_break]
    opens = [t.raw for t in wrapped[0::2]]
    closes = [t.raw for t in reversed(wrapped[1::2])]
    return "".join([*opens, *out, *lost, *closes])


def _needs_space(tag: Tag, edge: str) -> bool:
    """Does CommonMark need a space between this delimiter and a word outside it? Yes
    for ``_`` (never emphasis inside a word) and where the content begins (or ends) with
    punctuation or more markup (``edge``: its first or last character; empty: a tag):
    "文字 **“引用”**"; "文字**发布**了" is emphasis as it stands."""
    return tag.raw.startswith("_") or not edge or unicodedata.category(edge)[0] in "PS"


def elements(slots: dict[str, Tag]) -> list[tuple[str, str]]:
    """(start slot, end slot) of each element whose two tags both have a slot here, in
    source order (outer elements first)."""
    by_pair: dict[int, list[str]] = {}
    for slot, tag in slots.items():
        if tag.pair >= 0:
            by_pair.setdefault(tag.pair, []).append(slot)
    return [(pair[0], pair[1]) for pair in by_pair.values() if len(pair) == 2]


def _element_tags(slots: dict[str, Tag]) -> tuple[set[str], set[str]]:
    """(slots of start tags, slots of end tags) of the elements."""
    starts: dict[int, str] = {}
    ends: set[str] = set()
    for slot, tag in slots.items():
        if tag.pair >= 0:
            (ends.add(slot) if tag.pair in starts else starts.setdefault(tag.pair, slot))
    return set(starts.values()), ends


def _accepted_pairs(slots: dict[str, Tag], found: dict[str, int]
                    ) -> tuple[set[str], list[Tag]]:
    """(slots of the elements that come back well placed and well nested; the start and
    end tags, alternating, of those that do not: they go around the whole segment)."""
    placed: set[str] = set()
    spans: list[tuple[int, int]] = []
    wrapped: list[Tag] = []
    for start, end in elements(slots):  # in source order: outer elements first
        a, b = found.get(start, -1), found.get(end, -1)
        nested = all(b < x or a > y or (x < a and b < y) or (a < x and y < b)
                     for x, y in spans)
        if 0 <= a < b and nested:
            placed |= {start, end}
            spans.append((a, b))
        else:
            wrapped += [slots[start], slots[end]]
    return placed, wrapped
