"""Documents through the API: ``format`` in /api/translate, /api/translate_file for Markdown
and HTML, and a clear 4xx for every bad upload. The FakeTranslator upper-cases, so the
markup's slots (numbers) come back and the structure can be checked exactly."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from hanyi.config import ServeConfig
from hanyi.serving import create_app


@pytest.fixture
def client(fake_translator):
    with TestClient(create_app(fake_translator(), ServeConfig(warmup=False))) as test_client:
        yield test_client


def test_api_translate_takes_a_format(client):
    r = client.post("/api/translate", json={"text": "# Hi *there*\n\nRun `ls` now.\n",
                                            "format": "markdown"})
    assert r.status_code == 200, r.text
    assert r.json()["translation"] == "# HI*THERE*\n\nRUN`ls`NOW.\n"  # (no spaces: Chinese)
    for inline in ("align", "slots"):  # by the model's attention, or as slot numbers
        r = client.post("/api/translate", json={"text": "Hi *there*, you", "inline": inline,
                                                "format": "markdown"})
        assert r.status_code == 200 and r.json()["translation"] == "HI*THERE*, YOU", r.text
    r = client.post("/api/translate", json={"texts": ["<p>Dear <b>user</b></p>", "<i>x</i>"],
                                            "format": "html", "glossary": {"user": "用户"}})
    assert r.status_code == 200, r.text
    assert r.json()["translations"] == ["<p>DEAR<b>用户</b></p>", "<i>X</i>"]
    for body, fragment in (({"text": "x", "format": "docx"}, "format"),
                           ({"text": "x", "format": "html", "attention": True}, "n-best"),
                           ({"text": "x", "format": "html", "beam": 2, "nbest": 2}, "n-best"),
                           ({"text": "x", "format": "html", "inline": "tags"}, "inline")):
        r = client.post("/api/translate", json=body)
        assert r.status_code == 422 and fragment in r.json()["error"], r.text


def test_markdown_and_html_files_come_back_translated_with_their_markup(client):
    markdown = b"# Title\n\nSee [the docs](https://x.org/a_b) and `code`.\n\n```\nkeep\n```\n"
    r = client.post("/api/translate_file", files={"file": ("guide.md", markdown)},
                    data={"keep": json.dumps(["docs"])})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/markdown")
    assert 'filename="guide.zh.md"' in r.headers["content-disposition"]
    assert r.text == "# TITLE\n\nSEE[THE docs](https://x.org/a_b)AND`code`.\n\n```\nkeep\n```\n"
    page = b'<p title="Tip">Hello <a href="/x">there</a>.</p><script>var a="b";</script>'
    r = client.post("/api/translate_file", files={"file": ("page.htm", page)})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.text == '<p title="TIP">HELLO<a href="/x">THERE</a>.</p><script>var a="b";</script>'
    r = client.post("/api/translate_file", files={"file": ("notes.txt", page)},
                    data={"format": "html"})  # the format asked for wins over the suffix
    assert r.status_code == 200 and "<script>var a=\"b\";</script>" in r.text


@pytest.mark.parametrize("upload, data, status, fragment", [
    (("bad.md", b"# Title\n\xff\xfe broken"), {}, 400, "not UTF-8"),
    (("empty.html", b""), {}, 400, "empty"),
    (("blank.md", b"  \n\n"), {}, 400, "empty"),
    (("a.md", b"# Hi"), {"format": "docx"}, 422, "unknown format"),
    (("a.md", b"# Hi"), {"glossary": "{not json"}, 422, "glossary: malformed JSON"),
    (("a.md", b"# Hi"), {"glossary": '["a list"]'}, 422, "glossary must be a JSON object"),
    (("a.md", b"# Hi"), {"keep": '{"a": 1}'}, 422, "keep must be a JSON list"),
    (("big.md", b"a" * 1_000_001), {}, 413, "too large"),
])
def test_every_bad_upload_gets_one_clear_4xx(client, upload, data, status, fragment):
    r = client.post("/api/translate_file", files={"file": upload}, data=data)
    assert r.status_code == status and fragment in r.json()["error"], r.text


def test_an_upload_without_a_file_is_a_422(client):
    r = client.post("/api/translate_file", data={"format": "html"})
    assert r.status_code == 422 and "file" in r.json()["error"]


def test_malformed_documents_are_translated_as_far_as_they_parse(client):
    for name, body in (("x.html", b"<p>Unclosed <b>bold <i>and</p></div> stray"),
                       ("x.md", b"**unclosed [link](nowhere\n\n```\nopen fence\n")):
        r = client.post("/api/translate_file", files={"file": (name, body)})
        assert r.status_code == 200, r.text
        assert "UNCLOSED" in r.text
