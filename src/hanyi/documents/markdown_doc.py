"""Markdown: the text translated, the structure kept (markdown-it-py, CommonMark + tables
and ~~strikethrough~~).

Only the *inline* content of paragraphs, headings and table cells is rewritten, in place in
the source lines; every other line (blank lines, code blocks, HTML blocks, link reference
definitions, table rules, the front matter) comes out exactly as it went in, and so do the
markers in front of a line (``#``, ``>``, ``-``, ``1.``, indentation). Inside a paragraph:

* emphasis, strong, ~~strikethrough~~ and links are slots around translated text
  (documents/markup.py): link text is translated, the URL kept; a reference link
  ``[text][ref]`` or ``[text]`` keeps pointing at its reference;
* an image is one slot whose alt text is translated on its own;
* code spans, autolinks ``<https://…>`` and inline HTML are slots, never translated.

A paragraph wrapped over several lines comes out on one line (a line break inside Chinese
text shows as a space); hard line breaks (two spaces or ``\\`` at the end of a line) are
kept. An inline element we cannot line up with its source (rare: tabs in the indentation)
is left untranslated and counted, never guessed at.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.helpers import parseLinkDestination, parseLinkTitle
from markdown_it.token import Token

from hanyi.documents.markup import Block, Piece, Tag, Text, plan, render, translate_blocks

log = logging.getLogger(__name__)

FRONT_MATTER = re.compile(r"\A(---|\+\+\+)[ \t]*\n.*?\n(?:---|\.\.\.|\+\+\+)[ \t]*(?:\n|\Z)",
                          re.DOTALL)
PAIRED = {"em_open", "em_close", "strong_open", "strong_close", "s_open", "s_close"}
ASCII_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


class Unaligned(ValueError):
    """The source does not line up with markdown-it's tokens here."""


def parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def blank_front_matter(text: str) -> str:
    """``text`` with a leading YAML/TOML front matter replaced by as many empty lines."""
    match = FRONT_MATTER.match(text)
    if not match:
        return text
    return "\n" * match.group().count("\n") + text[match.end():]


def escape(text: str) -> str:
    """Translated text made safe to stand in Markdown: nothing in it becomes markup."""
    text = re.sub(r"([\\`*\[\]<>|~])", r"\\\1", text)
    text = re.sub(r"(?<![^\W_])_|_(?![^\W_])", r"\\_", text)  # "_" not inside a word
    text = re.sub(r"&(?=#?\w+;)", "&amp;", text)
    return re.sub(r"^([#>+=-]|\d+[.)])(?=\s|$)", r"\\\1", text)


@dataclass
class Span:
    """Where an inline element's content lies: lines ``first..last`` of the source,
    from ``start`` in the first line to ``end`` in the last."""

    first: int
    last: int
    start: int
    end: int
    prefixes: list[str]  # what stands before the content on each line (markers, indent)


def locate(lines: list[str], token: Token, column: int, cell: bool) -> Span:
    """The source span of ``token.content`` (its lines are suffixes of source lines;
    a table cell starts at or after ``column``)."""
    first = token.map[0]
    parts = token.content.split("\n")
    starts, prefixes = [], []
    for j, part in enumerate(parts):
        line = lines[first + j] if first + j < len(lines) else ""
        at = line.find(part, column) if cell else line.rfind(part)
        if at < 0 and cell:
            part = part.replace("|", "\\|")
            at = line.find(part, column)
        if at < 0 or not part:
            raise Unaligned(f"line {first + j + 1}")
        starts.append(at)
        prefixes.append(line[:at])
        parts[j] = part
    last = first + len(parts) - 1
    return Span(first, last, starts[0], starts[-1] + len(parts[-1]), prefixes)


class _Source:
    """The source of one inline element, read in step with its tokens."""

    def __init__(self, lines: list[str], span: Span):
        segment = [lines[n] for n in range(span.first, span.last + 1)]
        segment[-1] = segment[-1][:span.end]
        segment = [s[len(p):] for s, p in zip(segment, span.prefixes, strict=True)]
        self.text, self.at, self.prefixes = "\n".join(segment), 0, span.prefixes
        self.newlines = 0

    def take(self, n: int) -> str:
        """The next ``n`` characters, as they are written out: a line break carries the
        next line's prefix (``> ``, indentation) with it."""
        if n < 0 or self.at + n > len(self.text):
            raise Unaligned("past the end")
        out = []
        for char in self.text[self.at:self.at + n]:
            out.append(char)
            if char == "\n":
                self.newlines += 1
                out.append(self.prefixes[min(self.newlines, len(self.prefixes) - 1)])
        self.at += n
        return "".join(out)

    def expect(self, markup: str) -> str:
        if not self.text.startswith(markup, self.at):
            raise Unaligned(f"expected {markup!r}")
        return self.take(len(markup))

    def text_of(self, value: str) -> str:
        """The source of a text token: ``value`` with escapes and entities undone."""
        s, at, i = self.text, self.at, 0
        while i < len(value):
            entity = _ENTITY.match(s, at)
            if s.startswith("\\", at) and s[at + 1:at + 2] == value[i] \
                    and value[i] in ASCII_PUNCT:
                at, i = at + 2, i + 1
            elif entity and value.startswith(html.unescape(entity.group()), i):
                at, i = entity.end(), i + len(html.unescape(entity.group()))
            elif at < len(s) and s[at] == value[i]:
                at, i = at + 1, i + 1
            else:
                raise Unaligned(f"text {value!r}")
        return self.take(at - self.at)

    def brackets_end(self) -> int:
        """The offset after the ``]`` that closes the ``[`` at the current position."""
        depth, i = 0, self.at
        while i < len(self.text):
            char = self.text[i]
            if char == "\\":
                i += 2
                continue
            depth += (char == "[") - (char == "]")
            if depth == 0:
                return i + 1
            i += 1
        raise Unaligned("unclosed [")

    def destination(self, label: str) -> str:
        """After a link's or image's ``]``: ``(url "title")``, ``[ref]``, ``[]`` or nothing
        (a shortcut reference, which must keep its label: the text is being translated)."""
        s, at = self.text, self.at
        if s.startswith("(", at):
            pos = _skip_space(s, at + 1)
            found = parseLinkDestination(s, pos, len(s))
            if found.ok:
                pos = _skip_space(s, found.pos)
                title = parseLinkTitle(s, pos, len(s))
                pos = _skip_space(s, title.pos) if title.ok else pos
            if pos < len(s) and s[pos] == ")":
                return self.take(pos + 1 - at)
            raise Unaligned("link destination")
        if s.startswith("[]", at):
            self.take(2)
            return f"[{label}]"
        if s.startswith("[", at):
            end = s.find("]", at)
            if end > at + 1:
                return self.take(end + 1 - at)
        return f"[{label}]"


def _skip_space(s: str, pos: int) -> int:
    while pos < len(s) and s[pos] in " \t\n":
        pos += 1
    return pos


_SOFTBREAK = re.compile(r"[ \t]*\n[ \t]*")
_HARDBREAK = re.compile(r"[ \t]*\\?\n[ \t]*")


@dataclass
class Image:
    tag: Tag
    alt: str  # the alt text, plain
    dest: str  # what follows its "]"
    alt_source: str  # the alt as written


def inline_pieces(token: Token, src: _Source) -> tuple[list[Piece], list[Image]]:
    """The pieces of one inline element (documents/markup.py), and its images."""
    pieces: list[Piece] = []
    images: list[Image] = []
    stack: list[tuple[int, int]] = []  # (pair number, where a link's text starts)
    children = token.children or []
    i = 0
    while i < len(children):
        child, kind = children[i], children[i].type
        if kind == "text" and not child.content:
            pass
        elif kind == "text":
            pieces.append(Text(child.content, src.text_of(child.content)))
        elif kind in ("softbreak", "hardbreak"):
            gap = (_SOFTBREAK if kind == "softbreak" else _HARDBREAK).match(src.text, src.at)
            if not gap:
                raise Unaligned(kind)
            raw = src.take(gap.end() - src.at)
            pieces.append(Text(" ", raw) if kind == "softbreak" else Tag(raw, line_break=True))
        elif kind == "code_inline":
            pieces.append(Tag(src.take(_code_end(src, child.markup) - src.at)))
        elif (kind in PAIRED and kind.endswith("_open")) or (
                kind == "link_open" and child.markup != "autolink"):
            stack.append((len(pieces), src.at + 1))
            pieces.append(Tag(src.expect("[" if kind == "link_open" else child.markup),
                              pair=len(pieces), spaced=kind != "link_open"))
        elif kind.endswith("_close") and (kind in PAIRED or child.markup != "autolink"):
            pair, label_at = stack.pop()
            if kind == "link_close":
                label = src.text[label_at:src.at]
                raw = src.expect("]") + src.destination(label)
            else:
                raw = src.expect(child.markup)
            pieces.append(Tag(raw, pair=pair, spaced=kind != "link_close"))
        elif kind == "link_open":  # an autolink <https://...>: kept whole
            end = src.text.find(">", src.at)
            if not src.text.startswith("<", src.at) or end < 0:
                raise Unaligned("autolink")
            pieces.append(Tag(src.take(end + 1 - src.at)))
            while i + 1 < len(children) and children[i].type != "link_close":
                i += 1
        elif kind == "image":
            pieces.append(_image(child, src, images))
        elif kind == "html_inline":
            pieces.append(Tag(src.expect(child.content)))
        else:
            raise Unaligned(kind)
        i += 1
    if src.text[src.at:].strip():
        raise Unaligned("text left over")
    return pieces, images


def _code_end(src: _Source, ticks: str) -> int:
    closing = re.compile(rf"(?<!`){re.escape(ticks)}(?!`)")
    match = closing.search(src.text, src.at + len(ticks))
    if not src.text.startswith(ticks, src.at) or not match:
        raise Unaligned("code span")
    return match.end()


def _image(child: Token, src: _Source, images: list[Image]) -> Tag:
    if not src.text.startswith("![", src.at):
        raise Unaligned("image")
    src.at += 1
    end = src.brackets_end()
    src.at -= 1
    alt_source = src.text[src.at + 2:end - 1]
    opening = src.take(end - src.at)
    dest = src.destination(alt_source)
    tag = Tag(opening + dest)
    alt = "".join(c.content for c in child.children or () if c.type in ("text", "code_inline"))
    images.append(Image(tag, " ".join(alt.split()), dest, alt_source))
    return tag


@dataclass
class _Edit:
    span: Span
    block: Block
    unit: int | None  # the block's text among the units (None: not translated)


def translate_markdown(text: str, translate: Callable[[list[str]], list[str]],
                       tight: bool = True, inline: str = "align") -> tuple[str, dict]:
    """The translated document, and counts: elements translated, elements kept as they
    were because they did not line up with their source. ``inline``: how emphasis and
    links inside a sentence go through the model (documents/markup.py)."""
    lines = text.split("\n")
    units: list[str] = []
    edits: list[_Edit] = []
    images: list[tuple[Image, int]] = []
    unaligned, column = 0, {}
    previous = None
    for token in parser().parse(blank_front_matter(text)):
        cell, previous = previous in ("th_open", "td_open"), token.type
        if token.type != "inline" or not token.map:
            continue
        try:
            span = locate(lines, token, column.get(token.map[0], 0), cell)
            pieces, found = inline_pieces(token, _Source(lines, span))
        except Unaligned as exc:
            unaligned += 1
            log.warning("line %d: kept untranslated (%s)", token.map[0] + 1, exc)
            continue
        column[token.map[0]] = span.end
        block = plan(pieces)
        unit = None
        if block.text is not None:
            unit = len(units)
            units.append(block.text)
        for image in found:
            if re.search(r"[^\W\d_]", image.alt):
                images.append((image, len(units)))
                units.append(image.alt)
        if unit is not None or found:
            edits.append(_Edit(span, block, unit))
    blocks = [(edit.block, edit.unit) for edit in edits if edit.unit is not None]
    translations = translate_blocks(units, blocks, translate, tight, inline)
    for image, unit in images:
        image.tag.raw = f"![{escape(translations[unit])}]{image.dest}"
    out = apply(lines, edits, tight)
    return out, {"translated": len(units), "kept_unaligned": unaligned}


def apply(lines: list[str], edits: list[_Edit], tight: bool) -> str:
    """The source lines with every edit's span replaced by its rendered block."""
    lines = list(lines)
    dropped: set[int] = set()
    for edit in sorted(edits, key=lambda e: (e.span.first, -e.span.start)):  # right to left
        span = edit.span
        body = render(edit.block, escape, tight)
        lines[span.first] = lines[span.first][:span.start] + body + lines[span.last][span.end:]
        dropped.update(range(span.first + 1, span.last + 1))
    return "\n".join(line for n, line in enumerate(lines) if n not in dropped)
