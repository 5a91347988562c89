"""HTML: text nodes and ``alt``/``title`` attributes translated, every tag kept.

We read the document with the standard library's HTML parser (the parser BeautifulSoup
calls "html.parser"; it accepts anything, unclosed and stray tags included) and keep the
source text of every event, so all that is not translated comes out byte for byte as it
went in: tags with their attributes, quoting and case, comments, the doctype, entities.

The text between two block-level tags (``<p>``, ``<li>``, ``<td>``, ``<h1>``, ``<div>``,
…) is one *block*; inline tags inside it (``<b>``, ``<a>``, ``<em>``, ``<span>``, …) become
slots and survive translation as documents/markup.py describes (a dropped slot: the tag
goes around its whole sentence; a lone ``<br>``/``<img>`` at its end). Never translated:
``<script>``, ``<style>``, ``<code>``, ``<pre>``, ``<kbd>``, ``<samp>``, ``<var>``, ``<svg>``,
``<math>``, and any element with ``translate="no"`` or the class ``notranslate`` (inside a
sentence such an element is one slot). An element left unclosed at the end of a skipped
zone keeps the rest of the document untranslated rather than guess where it ends.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

from hanyi.documents.markup import Block, Piece, Tag, Text, plan, render, translate_blocks

INLINE = {"a", "abbr", "b", "bdi", "bdo", "big", "cite", "data", "del", "dfn", "em", "font",
          "i", "ins", "label", "mark", "q", "s", "small", "span", "strike", "strong", "sub",
          "sup", "time", "tt", "u"}
INLINE_LONE = {"br", "img", "wbr", "input"}  # inline, no end tag: one slot each
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr"}
SKIP = {"script", "style", "code", "pre", "kbd", "samp", "var", "svg", "math"}
INLINE_SKIP = {"code", "kbd", "samp", "var"}
ATTRIBUTES = ("alt", "title")
_ATTR = re.compile(r"""(?P<name>[^\s"'<>/=]+)(?:\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\s>]*))?""")


@dataclass
class Event:
    kind: str  # "start", "end", "startend", "text", "other" (comment, doctype, ...)
    at: int  # offset of its first character in the source
    tag: str = ""
    attrs: list = field(default_factory=list)
    data: str = ""  # a text event's text, entities decoded
    raw: str = ""  # its source text


class _Reader(HTMLParser):
    """Events with their source offsets (``getpos`` is the start of the current event)."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.events: list[Event] = []

    def _add(self, kind: str, **fields) -> None:
        line, column = self.getpos()
        self.events.append(Event(kind, self.line_starts[line - 1] + column, **fields))

    def handle_starttag(self, tag, attrs):
        self._add("start", tag=tag, attrs=attrs)

    def handle_startendtag(self, tag, attrs):
        self._add("startend", tag=tag, attrs=attrs)

    def handle_endtag(self, tag):
        self._add("end", tag=tag)

    def handle_data(self, data):
        self._add("text", data=data)

    def handle_comment(self, data):
        self._add("other")

    handle_decl = handle_pi = unknown_decl = handle_comment


def read_events(source: str) -> list[Event]:
    reader = _Reader(source)
    reader.feed(source)
    reader.close()
    events = sorted(reader.events, key=lambda e: e.at)
    if not events:
        return [Event("text", 0, data=source, raw=source)] if source else []
    for event, after in zip(events, [*(e.at for e in events[1:]), len(source)], strict=True):
        event.raw = source[event.at:after]
    if events[0].at > 0:  # nothing is lost, whatever the parser skipped
        events[0].raw = source[:events[0].at] + events[0].raw
    return events


def skipped(event: Event) -> bool:
    attrs = {k.lower(): (v or "") for k, v in event.attrs}
    return (event.tag in SKIP or attrs.get("translate", "").strip().lower() == "no"
            or "notranslate" in attrs.get("class", "").split())


def element_end(events: list[Event], i: int) -> int:
    """The index after the end tag that closes ``events[i]`` (the end when unclosed)."""
    start = events[i]
    if start.kind == "startend" or start.tag in VOID:
        return i + 1
    depth = 0
    for j in range(i, len(events)):
        event = events[j]
        if event.tag == start.tag and event.kind in ("start", "end"):
            depth += 1 if event.kind == "start" else -1
            if depth == 0:
                return j + 1
    return len(events)


def set_attributes(raw: str, values: dict[str, str]) -> str:
    """A start tag's source with the named attributes' values replaced (escaped)."""
    name_end = re.match(r"<[^\s/>]*", raw).end()
    out, last = [raw[:name_end]], name_end
    for match in _ATTR.finditer(raw, name_end):
        name = match.group("name").lower()
        if name in values and match.group("value") is not None:
            out.append(raw[last:match.start("value")])
            out.append('"' + html.escape(values[name], quote=True) + '"')
            last = match.end("value")
    out.append(raw[last:])
    return "".join(out)


class _Document:
    """What a document becomes before translation: kept source, tags, blocks; and the
    texts to translate (``units``)."""

    def __init__(self):
        self.items: list[str | Tag | Block] = []
        self.units: list[str] = []
        self.block_unit: dict[int, int] = {}  # id(block) -> its unit
        self.attribute_units: list[tuple[Tag, str, int]] = []  # (tag, name, unit)
        self.pieces: list[Piece] = []

    def tag(self, event: Event, raw: str | None = None) -> Tag:
        tag = Tag(event.raw if raw is None else raw)
        for name, value in event.attrs if raw is None else ():
            if name.lower() in ATTRIBUTES and value and re.search(r"[^\W\d_]", value):
                self.attribute_units.append((tag, name.lower(), len(self.units)))
                self.units.append(" ".join(value.split()))
        return tag

    def flush(self) -> None:
        if not self.pieces:
            return
        pair_up(self.pieces)
        block = plan(self.pieces)
        if block.text is not None:
            self.block_unit[id(block)] = len(self.units)
            self.units.append(block.text)
        self.items.append(block)
        self.pieces = []


def pair_up(pieces: list[Piece]) -> None:
    """Number each inline element whose start and end tag are both in the block."""
    names = [p.name if isinstance(p, Tag) else "" for p in pieces]
    stack: list[int] = []
    for i, piece in enumerate(pieces):
        if not isinstance(piece, Tag) or not names[i]:
            continue
        name = names[i]
        if not name.startswith("/"):
            stack.append(i)
            continue
        opener = next((j for j in reversed(stack) if names[j] == name[1:]), None)
        if opener is not None:
            piece.pair = pieces[opener].pair = opener
            del stack[stack.index(opener):]


def parse(source: str) -> _Document:
    events = read_events(source)
    doc = _Document()
    i = 0
    while i < len(events):
        event = events[i]
        if event.kind in ("start", "startend") and skipped(event):
            end = element_end(events, i)
            raw = "".join(e.raw for e in events[i:end])
            if event.tag in INLINE_SKIP | INLINE | INLINE_LONE:
                doc.pieces.append(doc.tag(event, raw))
            else:
                doc.flush()
                doc.items.append(raw)
            i = end
            continue
        if event.kind == "text":
            doc.pieces.append(Text(event.data, event.raw))
        elif event.kind == "other":
            doc.pieces.append(Tag(event.raw))
        elif event.tag in INLINE or event.tag in INLINE_LONE:
            tag = doc.tag(event)
            if event.tag in INLINE and event.kind != "startend":
                tag.name = event.tag if event.kind == "start" else "/" + event.tag
            doc.pieces.append(tag)
        else:
            doc.flush()
            doc.items.append(doc.tag(event))
        i += 1
    doc.flush()
    return doc


def translate_html(text: str, translate: Callable[[list[str]], list[str]], tight: bool = True,
                   inline: str = "align") -> tuple[str, int]:
    """The translated document, and how many blocks and attributes were translated.
    ``inline``: how inline elements go through the model (documents/markup.py)."""
    doc = parse(text)
    blocks = [(item, doc.block_unit[id(item)]) for item in doc.items
              if isinstance(item, Block) and id(item) in doc.block_unit]
    translations = translate_blocks(doc.units, blocks, translate, tight, inline)
    for tag, name, unit in doc.attribute_units:
        tag.raw = set_attributes(tag.raw, {name: translations[unit]})
    escape = lambda s: html.escape(s, quote=False)  # noqa: E731
    out = []
    for item in doc.items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, Tag):
            out.append(item.raw)
        else:
            out.append(render(item, escape, tight))
    return "".join(out), len(doc.units)
