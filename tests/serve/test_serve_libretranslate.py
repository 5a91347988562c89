"""LibreTranslate compatibility, tested with LibreTranslate's own Python client
(libretranslatepy) against a real server on a loopback port. The client has no file
upload; /translate_file and /download_file are tested with httpx the way LibreTranslate's
own web page and other clients use them (multipart post, then a GET of the URL)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn

from hanyi.config import ServeConfig
from hanyi.serving import create_app

libretranslatepy = pytest.importorskip("libretranslatepy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(fake_translator, tmp_path):
    """A uvicorn server in a thread; yields (base URL, the keys file's key)."""
    keys = tmp_path / "keys.txt"
    keys.write_text("libre-client-key-42\n", encoding="utf-8")
    cfg = ServeConfig(warmup=False, libretranslate=True, api_keys_file=str(keys))
    port = free_port()
    config = uvicorn.Config(create_app(fake_translator(), cfg), host="127.0.0.1", port=port,
                            log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", "libre-client-key-42"
    srv.should_exit = True
    thread.join(10)


def test_the_libretranslate_client_works_unchanged(server):
    url, key = server
    client = libretranslatepy.LibreTranslateAPI(url, api_key=key)
    assert client.translate("Hello. How are you?", "en", "zh") == "HELLO.HOW ARE YOU?"
    assert client.translate("Hi", "auto", "zh") == "HI"
    assert {"code": "en", "name": "English", "targets": ["zh", "zh-Hans"]} in client.languages()
    assert client.detect("你好")[0]["language"] == "zh-Hans"
    assert client.detect("Hello")[0]["language"] == "en"
    with pytest.raises(urllib.error.HTTPError) as denied:
        libretranslatepy.LibreTranslateAPI(url).translate("Hi", "en", "zh")  # no key
    assert denied.value.code == 401


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_json_lists_alternatives_and_clear_errors(server):
    url, key = server
    status, data = post_json(url + "translate", {"q": ["a b", "c"], "source": "auto",
                                                 "target": "zh-Hans", "api_key": key})
    assert status == 200 and data["translatedText"] == ["A B", "C"]
    assert data["detectedLanguage"][0]["language"] == "en"
    status, data = post_json(url + "translate", {"q": "a", "source": "en", "target": "zh",
                                                 "alternatives": 2, "api_key": key})
    assert status == 200 and isinstance(data["alternatives"], list)
    for body, message in (({"q": "a", "source": "fr", "target": "zh"}, "fr is not supported"),
                          ({"q": "a", "source": "en", "target": "de"}, "de is not supported"),
                          ({"q": "a", "format": "xml"}, "format xml"),
                          ({"source": "en"}, "missing q")):
        status, data = post_json(url + "translate", {**body, "api_key": key})
        assert status == 400 and message in data["error"], data


def test_html_format_keeps_the_tags(server):
    url, key = server
    status, data = post_json(url + "translate", {
        "q": '<p>Hello <b>dear</b> <a href="/x">friend</a>.</p><code>x = 1</code>',
        "source": "en", "target": "zh", "format": "html", "api_key": key})
    assert status == 200, data
    assert data["translatedText"] == \
        '<p>HELLO<b>DEAR</b><a href="/x">FRIEND</a>.</p><code>x = 1</code>'
    status, data = post_json(url + "translate", {"q": ["<i>a</i>", "b"], "format": "html",
                                                 "source": "en", "target": "zh",
                                                 "api_key": key})
    assert status == 200 and data["translatedText"] == ["<i>A</i>", "B"]


def test_translate_file_answers_a_url_and_the_file_downloads(server):
    import httpx

    url, key = server
    form = {"source": "en", "target": "zh-Hans", "api_key": key}
    page = b"<h1>Hi <em>all</em></h1><pre>keep</pre>"
    r = httpx.post(url + "translate_file", files={"file": ("page.html", page)}, data=form,
                   timeout=30)
    assert r.status_code == 200, r.text
    download = r.json()["translatedFileUrl"]
    assert download.startswith(url + "download_file/") and download.endswith(".page.html")
    got = httpx.get(download, timeout=30)
    assert got.status_code == 200 and got.text == "<h1>HI<em>ALL</em></h1><pre>keep</pre>"
    assert got.headers["content-type"].startswith("text/html")
    assert 'filename="page.html"' in got.headers["content-disposition"]
    r = httpx.post(url + "translate_file", files={"file": ("notes.txt", b"One. Two.")},
                   data=form, timeout=30)
    assert httpx.get(r.json()["translatedFileUrl"], timeout=30).text == "ONE.TWO."


@pytest.mark.parametrize("files, data, status, fragment", [
    ({"file": ("a.docx", b"x")}, {"source": "en", "target": "zh"}, 400, "not supported"),
    ({"file": ("a.md", b"# x")}, {"target": "zh"}, 400, "missing source"),
    ({"file": ("a.md", b"# x")}, {"source": "fr", "target": "zh"}, 400, "fr is not supported"),
    ({"file": ("a.md", b"\xff")}, {"source": "en", "target": "zh"}, 400, "not UTF-8"),
    ({"file": ("a.md", b"")}, {"source": "en", "target": "zh"}, 400, "empty"),
    (None, {"source": "en", "target": "zh"}, 400, "missing file"),
])
def test_bad_files_get_a_clear_error(server, files, data, status, fragment):
    import httpx

    url, key = server
    r = httpx.post(url + "translate_file", files=files, data={**data, "api_key": key},
                   timeout=30)
    assert r.status_code == status and fragment in r.json()["error"], r.text


def test_unknown_downloads_are_404_and_never_a_path(server):
    import httpx

    url, key = server
    for name in ("0" * 32 + ".a.md", "..%2F..%2Fetc%2Fpasswd", "notes.md"):
        r = httpx.get(url + "download_file/" + name, timeout=30)
        assert r.status_code == 404, (name, r.text)
    denied = httpx.post(url + "translate_file", files={"file": ("a.md", b"# x")},
                        data={"source": "en", "target": "zh"}, timeout=30)
    assert denied.status_code == 401
