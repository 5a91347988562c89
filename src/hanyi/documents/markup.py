"""Inline markup inside a sentence: kept through translation as numbered slots.

A block of a Markdown or HTML document (a paragraph, a heading, a list item, a table cell)
is a list of *pieces*: :class:`Text` to translate and :class:`Tag` markup to keep as it is
(``<b>``, ``</a>``, ``*``, ``](https://…)``, an image, a code span). The block goes to the
model as one text in which every Tag is a slot: a number the text does not otherwise
contain, the same device as documents/protect.py (our model copies numbers reliably):

    Click <a href="/x">here</a> to <b>continue</b>.  ->  Click 7301 here 7302 to 7303 continue 7304.
    点击7301这里7302以7303继续7304。                   ->  点击<a href="/x">这里</a>以<b>继续</b>。

Markup that encloses the whole block (``<p><b>…</b></p>``, ``**…**``) and markup at its
edges never reaches the model: it is peeled off first and put back around the translation.

When the model drops a slot, its markup is put back around the translated block:

* an element (a start and an end tag) whose slots did not both come back, in order and
  well nested, is kept *around the whole translated block* (for the usual one-sentence
  block, the sentence): its markup is never lost, only widened;
* a lone tag (``<br>``, ``<img>``, a code span) is appended at the end of the block, as
  protect.py does for a URL; a Markdown hard line break is left out instead, since at the
  end of a paragraph it would change the document's structure.

When it *garbles* one ("7301" -> "730130": a number the source does not have) or writes one
twice, the translation cannot be trusted with numbers in it: the block is translated again
without its markup (one more call for all such blocks), and its markup goes around it as
above. (Dropped slots used to be translated again too; with a model that drops most slots
that decoded nearly every block twice, for the same widened markup.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from hanyi.data.slots import FIRST_SLOT

_WORD = re.compile(r"[^\W\d_]")  # a letter: a block without one is not translated
_SPACE = re.compile(r"\s+")


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
    # Markdown's * _ ~~ delimiters: a word right outside them gets a space between, or
    # CommonMark may not see them as emphasis ("文字**“引用”**" is not bold; "文字 **“引用”**" is)
    spaced: bool = False


Piece = Text | Tag


@dataclass
class Block:
    head: list[Piece]  # markup and whitespace before the text, kept outside the model
    core: list[Piece]
    tail: list[Piece]
    text: str | None = None  # what the model translates (None: nothing to translate)
    slots: dict[str, Tag] = field(default_factory=dict)


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


def plain(block: Block) -> str:
    """The block's text without its markup (what is translated when the slots fail)."""
    return _SPACE.sub(" ", "".join(p.value for p in block.core if isinstance(p, Text))).strip()


def usable(block: Block, translation: str) -> bool:
    """No slot more than once, and no number that was not in the source (a slot the model
    garbled: "7301" -> "730130"). A dropped slot is fine: :func:`fill` widens its markup."""
    numbers = re.findall(r"\d+", translation)
    return (all(numbers.count(slot) <= 1 for slot in block.slots)
            and set(numbers) <= set(re.findall(r"\d+", block.text or "")))


def translate_blocks(units: list[str], blocks: list[tuple[Block, int]],
                     translate: Callable[[list[str]], list[str]]) -> list[str]:
    """Translate all ``units`` in one call; then the blocks (with their unit's index) whose
    slots came back garbled, once more in one call, as plain text: their markup then goes
    around the whole block (see the module docstring) instead of garbled numbers staying
    in the text."""
    translations = translate(units) if units else []
    failed = [(block, unit) for block, unit in blocks if not usable(block, translations[unit])]
    if failed:
        again = translate([plain(block) for block, _ in failed])
        for (_, unit), translation in zip(failed, again, strict=True):
            translations[unit] = translation
    return translations


def raw_of(pieces: list[Piece]) -> str:
    return "".join(p.raw for p in pieces)


def render(block: Block, translation: str | None, escape: Callable[[str], str],
           tight: bool) -> str:
    """The block written out: its translation (escaped, slots replaced by their markup) or,
    when it was not translated, its source as it was."""
    if block.text is None or translation is None:
        middle = raw_of(block.core)
    else:
        middle = fill(translation, block.slots, escape, tight)
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
                if tag.spaced and part in starts and out and re.search(r"\w$", out[-1]):
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
                and re.match(r"\w", part):
            part = " " + part
        out.append(escape(part))
    lost = [tag.raw for s, tag in slots.items()
            if tag.pair < 0 and s not in found and not tag.line_break]
    opens = [t.raw for t in wrapped[0::2]]
    closes = [t.raw for t in reversed(wrapped[1::2])]
    return "".join([*opens, *out, *lost, *closes])


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
    end tags, alternating, of those that do not: they go around the whole block)."""
    by_pair: dict[int, list[str]] = {}
    for slot, tag in slots.items():
        if tag.pair >= 0:
            by_pair.setdefault(tag.pair, []).append(slot)
    placed: set[str] = set()
    spans: list[tuple[int, int]] = []
    wrapped: list[Tag] = []
    for pair in by_pair.values():  # in source order: outer elements first
        if len(pair) != 2:
            continue
        start, end = pair
        a, b = found.get(start, -1), found.get(end, -1)
        nested = all(b < x or a > y or (x < a and b < y) or (a < x and y < b)
                     for x, y in spans)
        if 0 <= a < b and nested:
            placed |= {start, end}
            spans.append((a, b))
        else:
            wrapped += [slots[start], slots[end]]
    return placed, wrapped
