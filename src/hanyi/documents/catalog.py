"""gettext catalogues (``.po``, with polib): untranslated entries filled from their msgid.

Only entries without a translation are touched (``msgstr`` empty; obsolete entries never).
Placeholders (``%s``, ``%(count)d``, ``{name}``) survive through documents/protect.py. A
plural entry gets its ``msgid_plural`` translated into every ``msgstr[n]`` (Chinese has one
plural form). Every entry hanyi fills is flagged ``fuzzy``, the gettext way of saying
"needs review": ``msgfmt`` skips fuzzy entries unless given ``--use-fuzzy``, so a machine
translation is never shipped unread by accident.
"""

from __future__ import annotations

from collections.abc import Callable

import polib

from hanyi.errors import InputError


def translate_po(text: str, translate: Callable[[list[str]], list[str]], name: str = "<po>"
                 ) -> tuple[str, int]:
    """The catalogue with its untranslated entries filled; returns (text, entries filled)."""
    try:
        catalogue = polib.pofile(text)
    except (OSError, ValueError) as exc:  # polib raises IOError (= OSError) on bad syntax
        raise InputError(f"{name}: not a gettext catalogue ({exc})") from None
    todo = [e for e in catalogue if not e.obsolete and e.msgid and not e.translated()
            and "fuzzy" not in e.flags]
    sources = [e.msgid_plural or e.msgid for e in todo]
    for entry, translation in zip(todo, translate(sources), strict=True):
        if entry.msgid_plural:
            forms = entry.msgstr_plural or {0: ""}
            entry.msgstr_plural = {n: translation for n in forms}
        else:
            entry.msgstr = translation
        entry.flags.append("fuzzy")
    return str(catalogue), len(todo)
