"""SRT subtitles (the ``srt`` library): timings and numbering kept, each cue translated.

A cue's lines are one utterance wrapped for the screen, so they are translated together
(joined by a space) and the translation is one line — Chinese subtitles are short. A block
that does not parse (a bad timestamp, a missing index) is kept exactly as it was and
counted: the rest of the file is still translated, never a crash.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import srt

log = logging.getLogger(__name__)

_BLOCKS = re.compile(r"\n\s*\n")


def translate_srt(text: str, translate: Callable[[list[str]], list[str]]) -> tuple[str, int]:
    """The translated file, and how many blocks were kept untranslated (malformed)."""
    blocks = [b for b in _BLOCKS.split(text.replace("\r\n", "\n").strip("\n")) if b.strip()]
    parsed: list[srt.Subtitle | None] = []
    for block in blocks:
        try:
            (cue,) = srt.parse(block + "\n")
            parsed.append(cue)
        except (srt.SRTParseError, ValueError):
            parsed.append(None)
    cues = [c for c in parsed if c is not None]
    translations = translate([" ".join(c.content.split()) for c in cues])
    for cue, translation in zip(cues, translations, strict=True):
        cue.content = translation
    bad = sum(c is None for c in parsed)
    if bad:
        log.warning("kept %d malformed subtitle block(s) untranslated", bad)
    out = [cue.to_srt(strict=False).rstrip("\n") if cue else block
           for cue, block in zip(parsed, blocks, strict=True)]
    return "\n\n".join(out) + "\n", bad
