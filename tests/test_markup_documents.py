"""Markdown and HTML documents (documents/markdown_doc.py, html_doc.py, markup.py): the text
is translated, the structure comes back the same (the output parses to the same token or
tag tree with the text replaced), inline markup survives inside a sentence, a dropped
placeholder never loses its markup, and malformed input is translated as far as it
parses. The translator is a fake that upper-cases: no model needed."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from hanyi.config import DecodeConfig, ModelConfig
from hanyi.decoding import Hypothesis
from hanyi.documents.formats import detect_format, translate_document, translate_via
from hanyi.documents.html_doc import translate_html
from hanyi.documents.markdown_doc import parser, translate_markdown
from hanyi.inference.translator import Translator


class Upper:
    """Upper-cases every text; records the calls (one per document is the point)."""

    def __init__(self, drop_numbers: bool = False):
        self.calls: list[list[str]] = []
        self.drop_numbers = drop_numbers

    def __call__(self, texts: list[str]) -> list[str]:
        self.calls.append(list(texts))
        out = [t.upper() for t in texts]
        return [re.sub(r"\d{4}", "", t) for t in out] if self.drop_numbers else out


MARKDOWN = """---
title: Front matter stays
tags: [a, b]
---
# A *small* guide #

This paragraph has **bold text**, a [link to *docs*](https://example.com/a_b "Docs")
and `inline code`, wrapped over two lines.\\
After a hard break: ![a cat photo](cat.png) and <https://auto.link> stay.

Setext heading
--------------

> - A quoted list item with a [reference link][ref].
> - Another item, ~~struck~~ out. [Shortcut]

1. First step.
2. Second step with an escaped \\* star &amp; an entity.

| Name | Meaning \\| pipe |
|------|-----------------|
| *cat* | an animal |

```python
print("never translated")
```

    indented code stays too

<div class="note">An HTML block is left alone.</div>

[ref]: https://example.com/ref
[shortcut]: https://example.com/short
"""


def shape(text: str) -> list:
    """The Markdown token tree with the text taken out: types, nesting, tags, URLs,
    code, HTML (soft breaks are layout, not structure)."""
    out = []
    for token in parser().parse(text):
        if token.type == "front_matter":
            continue
        kept = token.content if token.type in ("fence", "code_block", "html_block") else ""
        children = [(c.type, c.attrs.get("href"), c.attrs.get("src"),
                     c.content if c.type in ("code_inline", "html_inline") else "")
                    for c in token.children or () if c.type not in ("text", "softbreak")]
        out.append((token.type, token.tag, token.nesting, kept, children))
    return out


def body_of(markdown: str) -> str:
    return markdown.split("---\n", 2)[2]  # past the front matter


@pytest.mark.parametrize("tight", [False, True])
def test_markdown_round_trip_keeps_the_token_tree(tight):
    upper = Upper()
    out, counts = translate_markdown(MARKDOWN, upper, tight)
    assert len(upper.calls) == 1 and counts["kept_unaligned"] == 0  # one call per document
    assert shape(body_of(out)) == shape(body_of(MARKDOWN))
    assert out.startswith("---\ntitle: Front matter stays\ntags: [a, b]\n---\n")
    for kept in ('print("never translated")', "    indented code stays too",
                 '<div class="note">An HTML block is left alone.</div>', "`inline code`",
                 "(https://example.com/a_b \"Docs\")", "<https://auto.link>",
                 "[ref]: https://example.com/ref", "|------|-----------------|"):
        assert kept in out, kept
    for translated in ("# A *SMALL* GUIDE #", "![A CAT PHOTO](cat.png)", "SETEXT HEADING",
                       "| *CAT* | AN ANIMAL |", "1. FIRST STEP.", "MEANING \\| PIPE"):
        spaced = out.replace("A*SMALL*GUIDE", "A *SMALL* GUIDE")  # Chinese: no spaces
        assert translated in spaced.replace("*SMALL*GUIDE", "*SMALL* GUIDE"), translated
    assert "[SHORTCUT][Shortcut]" in out  # a shortcut reference keeps its label


def test_markdown_keeps_line_structure_around_paragraphs():
    out, _ = translate_markdown(MARKDOWN, Upper(), tight=False)
    lines = out.split("\n")
    assert "Setext heading".upper() in lines and "--------------" in lines
    assert lines.count("") == MARKDOWN.split("\n").count("")  # every blank line kept
    assert any(line.startswith("> - A QUOTED LIST ITEM") for line in lines)
    # the two-line paragraph became one line; its hard break is kept, with the next line
    para = next(n for n, line in enumerate(lines) if line.startswith("THIS PARAGRAPH"))
    assert lines[para].endswith("\\") and lines[para + 1].startswith("AFTER A HARD BREAK")


def test_markdown_dropped_placeholders_keep_their_markup_around_the_paragraph():
    doc = "Read **the fine** manual, see [this page](https://x.org) and `code` now.\n"
    out, _ = translate_markdown(doc, Upper(drop_numbers=True), tight=False)
    tree = shape(out)
    kinds = [c[0] for c in tree[1][4]]
    assert "strong_open" in kinds and "link_open" in kinds and "code_inline" in kinds
    assert ("link_open", "https://x.org", None, "") in tree[1][4]
    assert "READ" in out and "`code`" in out


def test_markdown_that_is_broken_is_translated_as_far_as_it_parses():
    broken = ("# Title\n\nAn **unclosed bold and [a link](without end\n\n"
              "```\nunclosed fence\n\n\tTabbed *text* here.\n")
    out, _ = translate_markdown(broken, Upper(), tight=False)
    assert out.startswith("# TITLE\n\nAN \\*\\*UNCLOSED BOLD AND \\[A LINK")
    assert "unclosed fence" in out  # inside the fence: code, untouched
    assert translate_markdown("", Upper())[0] == ""


HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>A page</title>
<style>p { color: red }</style><script>var s = "no translation";</script></head>
<body>
<h1 class="big" id=top>Hello <b>world</b></h1>
<p>Click <a href="/x?a=1&amp;b=2" title="Go there">here</a> to <em>continue</em>.
Caf&eacute; &amp; tea.<br>Second <img src="c.png" alt="A cat"> line.</p>
<p><strong>All of it bold.</strong></p>
<pre>keep   this</pre>
<p>Run <code>ls -l</code> first. <span translate="no">Acme Widget</span> works.</p>
<div class="notranslate">Brand Name</div>
<ul><li>One item<li>Two <i>items</i></ul>
<table><tr><td>Cell one</td><td title="tip">Cell two</td></tr></table>
<!-- a comment -->
</body></html>
"""


class Tree(HTMLParser):
    """Every tag with its attributes, and the text, in document order."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.texts = [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(("start", tag, [(k, v) for k, v in attrs if k not in ("alt", "title")]))

    def handle_endtag(self, tag):
        self.tags.append(("end", tag))

    def handle_data(self, data):
        if data.strip():
            self.texts.append(data)


@pytest.mark.parametrize("inline", ["align", "slots"])
@pytest.mark.parametrize("tight", [False, True])
def test_html_round_trip_keeps_every_tag_and_attribute(tight, inline):
    upper = Upper()
    out, units = translate_html(HTML, upper, tight, inline)
    assert len(upper.calls) == 1 and len(upper.calls[0]) >= units  # one call: a block's
    # sentences go one by one (a Chinese translation joins them without spaces); elements
    # as marks the model never sees (documents/align.py) or as slot numbers
    sentence = {"slots": "Click 7301 here 7302 to 7303 continue 7304.",
                "align": "Click \ue000 here \ue001 to \ue002 continue \ue003."}[inline]
    assert sentence in upper.calls[0] or not tight  # (else split the Chinese way)
    assert Tree(out).tags == Tree(HTML).tags
    for kept in ('<html lang="en">', '<h1 class="big" id=top>', "<!DOCTYPE html>",
                 '<style>p { color: red }</style>', 'var s = "no translation";',
                 "<pre>keep   this</pre>", "<code>ls -l</code>", "Acme Widget",
                 "Brand Name", "<!-- a comment -->", 'href="/x?a=1&amp;b=2"'):
        assert kept in out, kept
    texts = " ".join(Tree(out).texts)
    for translated in ("A PAGE", "WORLD", "HERE", "CAFÉ &amp; TEA.", "CELL TWO", "ITEMS"):
        assert translated in out, translated
    assert "Cell" not in texts and "Click" not in texts
    assert 'alt="A CAT"' in out and 'title="GO THERE"' in out and 'title="TIP"' in out
    assert "<p><strong>ALL OF IT BOLD.</strong></p>" in out


def test_html_dropped_placeholders_keep_the_tags_around_the_block():
    doc = '<p>Click <a href="/x">here</a> and <b>now</b><br>please.</p>'
    out, _ = translate_html(doc, Upper(drop_numbers=True), tight=False, inline="slots")
    assert Tree(out).tags == [("start", "p", []), ("start", "a", [("href", "/x")]),
                              ("start", "b", []), ("start", "br", []), ("end", "b"),
                              ("end", "a"), ("end", "p")]
    assert "CLICK" in out and "PLEASE." in out


def test_html_slots_come_back_in_the_translated_order():
    def swap(texts):  # a "translation" that moves the bold part to the front
        return [re.sub(r"^(.*?) (\d+) (.*?) (\d+)(.*)$", r"\2 \3 \4 \1\5", t) for t in texts]

    out, _ = translate_html("<p>Please read <b>this</b>.</p>", swap, tight=True, inline="slots")
    assert out == "<p><b>this</b>Please read.</p>"


@pytest.mark.parametrize("broken", [
    "<p>Unclosed paragraph <b>bold <i>both",
    "<p>Stray </b> end tag and </i> more.</p>",
    "<div><p>Crossed <b>tags <i>here</b> oops</i></div>",
    "Plain text, no tags at all. < and > signs.",
    "<p>An unclosed comment <!-- never ends",
    "<script>unclosed script",
    '<img alt="only an image">',
    "<",
    "",
])
def test_html_that_is_broken_never_crashes_and_keeps_its_tags(broken):
    out, _ = translate_html(broken, Upper(), tight=False)
    assert Tree(out).tags == Tree(broken).tags


def test_formats_from_suffix_and_through_translate_via():
    assert detect_format("README.md") == "markdown" and detect_format("x.markdown") == "markdown"
    assert detect_format("index.HTML") == "html" and detect_format("a.htm") == "html"
    out, _ = translate_via("<p>Hi <b>you</b></p>", "html", Upper(), target_language="en")
    assert out == "<p>HI <b>YOU</b></p>"
    out, _ = translate_via("Hi *you*\n", "markdown", Upper(), target_language="zh")
    assert out == "HI*YOU*\n"


def test_garbled_slots_are_translated_again_without_markup_in_one_more_call():
    calls = []

    def garble(texts):  # a model that cannot copy numbers: 7301 -> 730130
        calls.append(list(texts))
        return [re.sub(r"(\d{4})", r"\g<1>30", t).upper() for t in texts]

    doc = "<h1>Plain title</h1><p>Some <b>bold</b> words and 42 cats.</p><p>No markup.</p>"
    out, _ = translate_html(doc, garble, tight=False, inline="slots")
    assert len(calls) == 2 and calls[1] == ["Some bold words and 42 cats."]
    assert out == ("<h1>PLAIN TITLE</h1><p><b>SOME BOLD WORDS AND 42 CATS.</b></p>"
                   "<p>NO MARKUP.</p>")


def test_dropped_slots_widen_the_markup_without_a_second_call():
    calls = []

    def drop(texts):  # a model that leaves the slot numbers out
        calls.append(list(texts))
        return [re.sub(r" ?\b73\d\d\b", "", t).upper() for t in texts]

    doc = "<p>Some <b>bold</b> words and 42 <i>cats</i>.</p><p>No markup.</p>"
    out, _ = translate_html(doc, drop, tight=False, inline="slots")
    assert len(calls) == 1
    assert out == "<p><b><i>SOME BOLD WORDS AND 42 CATS.</i></b></p><p>NO MARKUP.</p>"
    assert sorted(Tree(out).tags) == sorted(Tree(doc).tags)  # every tag kept, only moved


class GarblingEngine:
    """Decodes a text to its upper case with every slot number garbled (7301 -> 730130),
    and records each sentence it was asked to decode."""

    name = "garbling"

    def __init__(self):
        self.seen = []

    def search(self, batch, cfg, need_attention=False, cancel=None):
        out = []
        for ids in batch:
            text = "".join(map(chr, ids))
            self.seen.append(text)
            result = re.sub(r"\b(73\d\d)\b", r"\g<1>30", text).upper()
            out.append([Hypothesis([ord(c) for c in result], -1.0, -1.0)])
        return out


def test_a_document_decodes_again_only_the_sentence_whose_slots_came_back_garbled():
    chars = SimpleNamespace(encode=lambda s: [ord(c) for c in s],
                            pieces=lambda ids: [chr(i) for i in ids])
    loaded = SimpleNamespace(model=None, src_vocab=chars, tgt_vocab=chars, path=None, meta={},
                             config=SimpleNamespace(decode=DecodeConfig(beam_size=1),
                                                    model=ModelConfig(), direction="en-zh"))
    engine = GarblingEngine()
    translator = Translator(loaded, engine=engine)
    translator.detokenize = lambda tokens: "".join(map(chr, tokens))
    doc = "<p>A plain sentence first. Then some <b>bold</b> words.</p>"
    out, _ = translate_document(translator, doc, "html", inline="slots")
    assert sorted(engine.seen[:2]) == ["A plain sentence first.",
                                       "Then some 7301 bold 7302 words."]
    assert engine.seen[2:] == ["Then some bold words."]  # the other one is not decoded again
    assert out == "<p>A PLAIN SENTENCE FIRST.<b>THEN SOME BOLD WORDS.</b></p>"  # widened to
    # its sentence, not the paragraph


def test_only_the_garbled_sentence_of_a_block_loses_its_markup_s_place():
    calls = []

    def garble_b(texts):  # garbles the end slot of <b> only (7304 -> 730430)
        calls.append(list(texts))
        return [t.replace("7304", "730430").upper() for t in texts]

    doc = "<p>Read <i>this</i> first. Then some <b>bold</b> words.</p>"
    out, _ = translate_html(doc, garble_b, tight=True, inline="slots")
    assert calls == [["Read 7301 this 7302 first.", "Then some 7303 bold 7304 words."],
                     ["Then some bold words."]]
    assert out == "<p>READ<i>THIS</i>FIRST.<b>THEN SOME BOLD WORDS.</b></p>"


def test_an_element_across_sentences_keeps_them_together():
    calls = []

    def upper(texts):
        calls.append(list(texts))
        return [t.upper() for t in texts]

    out, _ = translate_html("<p>One. <b>Two. Three.</b> Four. Five <i>six</i>.</p>", upper,
                            inline="slots")
    assert calls == [["One.", "7301 Two. Three.7302 Four.", "Five 7303 six 7304."]]
    assert out == "<p>ONE.<b>TWO. THREE.</b>FOUR.FIVE<i>SIX</i>.</p>"


def test_the_usual_slip_start_slot_twice_is_read_as_start_and_end():
    out, _ = translate_html("<p>Some <b>bold</b> words.</p>",
                            lambda texts: [t.replace("7302", "7301").upper() for t in texts],
                            inline="slots")
    assert out == "<p>SOME<b>BOLD</b>WORDS.</p>"


@pytest.mark.parametrize("translation, again", [
    ("7301 X 7302 8", False),  # a number of the model's own ("eight" -> "8"): fine
    ("7301 X 7302 7302", True),  # a slot twice
    ("7301 X 7301", False),  # the start twice, the end not at all: read as start and end
    ("7301 X 730230", True),  # a slot garbled into a longer number
    ("7301 X 73", True),  # ... or cut short
    ("7301 X", False),  # a slot dropped: its markup is widened, not decoded again
])
def test_which_translations_of_a_slot_sentence_are_decoded_again(translation, again):
    calls = []

    def fixed(texts):
        calls.append(list(texts))
        return [translation if "7301" in t else t.upper() for t in texts]

    translate_html("<p>Eight <b>cats</b></p>", fixed, tight=True, inline="slots")
    assert len(calls) == 1 + again


@pytest.mark.parametrize("source, chinese, expected", [
    ("Some **news** today", "今天7301新闻7302发布", "今天**新闻**发布"),  # no space needed
    ("Some **\"quote\"** today", "今天7301“引用”7302发布", "今天 **“引用”** 发布"),
    ("Some __news__ today", "今天7301新闻7302发布", "今天 __新闻__ 发布"),  # _ never inside
])
def test_chinese_emphasis_gets_spaces_only_where_commonmark_needs_them(source, chinese,
                                                                       expected):
    out, _ = translate_markdown(source + "\n", lambda texts: [chinese for _ in texts],
                                tight=True, inline="slots")
    assert out == expected + "\n"
    assert "strong_open" in [t.type for t in parser().parse(out)[1].children]
