"""LibreTranslate compatibility, tested with LibreTranslate's own Python client
(libretranslatepy) against a real server on a loopback port."""

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
                          ({"q": "a", "format": "html"}, "format html"),
                          ({"source": "en"}, "missing q")):
        status, data = post_json(url + "translate", {**body, "api_key": key})
        assert status == 400 and message in data["error"], data
