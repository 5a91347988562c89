"""Which document format a file is, and translating a whole document of that format.

``text`` keeps every line (documents/text.py); ``srt`` subtitles and ``po`` catalogues
translate their text and keep their structure (documents/subtitles.py, catalog.py).
Markdown and HTML are not handled yet: as ``text`` their markup would be translated too.
"""

from __future__ import annotations

from pathlib import Path

from hanyi.config import DecodeConfig
from hanyi.documents.catalog import translate_po
from hanyi.documents.subtitles import translate_srt
from hanyi.documents.text import translate_texts
from hanyi.errors import InputError
from hanyi.inference import Translator

FORMATS = ("text", "srt", "po")
SUFFIXES = {".srt": "srt", ".po": "po", ".pot": "po"}


def detect_format(path: str | None, asked: str = "auto") -> str:
    """``asked``, or for "auto" the format of ``path``'s suffix (text when unknown)."""
    if asked != "auto":
        if asked not in FORMATS:
            raise InputError(f"unknown format {asked!r}; choose from auto, {', '.join(FORMATS)}")
        return asked
    return SUFFIXES.get(Path(path).suffix.lower(), "text") if path else "text"


def translate_via(text: str, fmt: str, translate, name: str = "<input>") -> tuple[str, dict]:
    """A document of format ``fmt`` translated by ``translate(texts) -> texts`` (any
    callable: the server's goes through its batcher)."""
    if fmt == "srt":
        out, bad = translate_srt(text, translate)
        return out, {"malformed_blocks": bad}
    if fmt == "po":
        out, filled = translate_po(text, translate, name)
        return out, {"entries_filled": filled}
    return translate([text])[0], {}


def translate_document(translator: Translator, text: str, fmt: str,
                       decode: DecodeConfig | None = None, keep: tuple[str, ...] = (),
                       glossary: dict[str, str] | None = None, name: str = "<input>"
                       ) -> tuple[str, dict]:
    """The translated document and a few counts about it."""
    def translate(texts: list[str]) -> list[str]:
        return [t.text for t in translate_texts(translator, texts, decode, keep=keep,
                                                glossary=glossary)]

    return translate_via(text, fmt, translate, name)
