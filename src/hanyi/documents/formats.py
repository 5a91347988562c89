"""Which document format a file is, and translating a whole document of that format.

``text`` keeps every line (documents/text.py); ``markdown`` and ``html`` translate the
text and keep the markup (documents/markdown_doc.py, html_doc.py, markup.py); ``srt``
subtitles and ``po`` catalogues translate their text and keep their structure
(documents/subtitles.py, catalog.py). Every text unit of a document goes to the
translator in one call, so a long document is translated in well-filled batches.
"""

from __future__ import annotations

from pathlib import Path

from hanyi.config import DecodeConfig
from hanyi.documents.catalog import translate_po
from hanyi.documents.html_doc import translate_html
from hanyi.documents.markdown_doc import translate_markdown
from hanyi.documents.markup import INLINE
from hanyi.documents.subtitles import translate_srt
from hanyi.documents.text import translate_texts
from hanyi.errors import InputError
from hanyi.inference import Translator

FORMATS = ("text", "markdown", "html", "srt", "po")
SUFFIXES = {".srt": "srt", ".po": "po", ".pot": "po", ".md": "markdown", ".markdown": "markdown",
            ".html": "html", ".htm": "html", ".xhtml": "html"}


def detect_format(path: str | None, asked: str = "auto") -> str:
    """``asked``, or for "auto" the format of ``path``'s suffix (text when unknown)."""
    if asked != "auto":
        if asked not in FORMATS:
            raise InputError(f"unknown format {asked!r}; choose from auto, {', '.join(FORMATS)}")
        return asked
    return SUFFIXES.get(Path(path).suffix.lower(), "text") if path else "text"


def translate_via(text: str, fmt: str, translate, name: str = "<input>",
                  target_language: str = "zh", inline: str = "align") -> tuple[str, dict]:
    """A document of format ``fmt`` translated by ``translate(texts) -> texts`` (any
    callable: the server's goes through its batcher). Chinese output has no spaces around
    inline markup (``target_language``). ``inline``: how Markdown's and HTML's inline
    elements go through the model: "align" (marks placed back by the model's attention,
    documents/align.py: the default) or "slots" (slot numbers it copies, markup.py)."""
    tight = target_language == "zh"
    if inline not in INLINE:
        raise InputError(f"unknown inline mode {inline!r}; choose from {', '.join(INLINE)}")
    if fmt == "markdown":
        return translate_markdown(text, translate, tight, inline)
    if fmt == "html":
        out, units = translate_html(text, translate, tight, inline)
        return out, {"translated": units}
    if fmt == "srt":
        out, bad = translate_srt(text, translate)
        return out, {"malformed_blocks": bad}
    if fmt == "po":
        out, filled = translate_po(text, translate, name)
        return out, {"entries_filled": filled}
    return translate([text])[0], {}


def translate_document(translator: Translator, text: str, fmt: str,
                       decode: DecodeConfig | None = None, keep: tuple[str, ...] = (),
                       glossary: dict[str, str] | None = None, name: str = "<input>",
                       inline: str = "align") -> tuple[str, dict]:
    """The translated document and a few counts about it."""
    def translate(texts: list[str]) -> list[str]:
        return [t.text for t in translate_texts(translator, texts, decode, keep=keep,
                                                glossary=glossary)]

    return translate_via(text, fmt, translate, name, translator.target_language, inline)
