"""Document formats: SRT timings and gettext catalogues keep their structure; malformed
input is translated as far as it parses."""

from __future__ import annotations

import polib
import pytest
import srt

from hanyi.documents.catalog import translate_po
from hanyi.documents.formats import detect_format
from hanyi.documents.subtitles import translate_srt
from hanyi.errors import InputError


def upper(texts):
    return [t.upper() for t in texts]


SRT = """1
00:00:01,000 --> 00:00:02,500
Hello there.
How are you?

2
00:00:03,000 --> 00:00:04,000
Fine.

3
00:00:0x,000 --> broken
This block is broken.

4
00:00:05,000 --> 00:00:06,000
Bye.
"""


def test_subtitles_keep_timings_and_survive_a_bad_block():
    out, bad = translate_srt(SRT, upper)
    assert bad == 1
    cues = [b for b in out.split("\n\n") if b.strip()]
    assert len(cues) == 4 and "This block is broken." in cues[2]  # kept as it was
    good = list(srt.parse("\n\n".join(cues[:2] + cues[3:]) + "\n"))
    assert [c.content for c in good] == ["HELLO THERE. HOW ARE YOU?", "FINE.", "BYE."]
    assert [str(c.start) for c in good] == ["0:00:01", "0:00:03", "0:00:05"]
    assert str(good[0].end) == "0:00:02.500000"


PO = '''msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=1; plural=0;\\n"

msgid "Open %(name)s"
msgstr ""

msgid "Already done"
msgstr "已完成"

#, fuzzy
msgid "Needs review"
msgstr "需要审核"

msgid "One file"
msgid_plural "%d files"
msgstr[0] ""

#~ msgid "Old"
#~ msgstr ""
'''


def test_catalogues_fill_only_untranslated_entries_and_flag_them_fuzzy():
    out, filled = translate_po(PO, upper)
    assert filled == 2
    entries = {e.msgid: e for e in polib.pofile(out)}
    assert entries["Open %(name)s"].msgstr == "OPEN %(NAME)S"  # the fake upper-cases all
    assert "fuzzy" in entries["Open %(name)s"].flags
    assert entries["Already done"].msgstr == "已完成" and not entries["Already done"].flags
    assert entries["Needs review"].msgstr == "需要审核"
    assert entries["One file"].msgstr_plural == {0: "%D FILES"}
    with pytest.raises(InputError, match="not a gettext catalogue"):
        translate_po("this is not\na po file at all\n", upper, "bad.po")


def test_formats_come_from_the_suffix_unless_asked():
    assert detect_format("film.SRT") == "srt" and detect_format("app.pot") == "po"
    assert detect_format("notes.txt") == "text" and detect_format(None) == "text"
    assert detect_format("film.srt", "text") == "text"
    with pytest.raises(InputError, match="unknown format"):
        detect_format("x", "docx")
