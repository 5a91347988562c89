"""The HTTP API through FastAPI's TestClient, on the tiny trained model.

Pins: the answer shapes (single, batch, n-best, attention), that batching does not change
a translation, every documented error status with a JSON message, the limits (413), a
full queue (503), a timeout (504), that the event loop stays free while the model works,
and that the page and the docs use only assets the app serves itself.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from fastapi.testclient import TestClient

from hanyi.config import ServeConfig
from hanyi.errors import Cancelled, ConfigError
from hanyi.serving import create_app
from hanyi.serving.app import WARMUP_TEXT

CJK = re.compile(r"[\u4e00-\u9fff]")


def post(client, body):
    return client.post("/api/translate", json=body)


def test_single_text_gives_chinese(client, tiny_translator):
    r = post(client, {"text": "I like tea."})
    assert r.status_code == 200, r.text
    data = r.json()
    assert CJK.search(data["translation"]), data
    assert data["model"] == tiny_translator.name and data["time_ms"] > 0
    assert data["attention"] is None
    assert data["alternatives"][0]["text"] == data["translation"]


def test_batch_keeps_order_and_matches_single_requests(client):
    texts = ["Tom is here.", "", "I want to sleep.", "Thank you very much."]
    r = post(client, {"texts": texts, "beam": 1})
    assert r.status_code == 200, r.text
    data = r.json()
    assert len(data["translations"]) == len(data["items"]) == len(texts)
    assert data["translations"][1] == ""
    for text, got in zip(texts, data["translations"], strict=True):
        if text:
            alone = post(client, {"text": text, "beam": 1}).json()["translation"]
            assert got == alone


def test_nbest_gives_sorted_alternatives(client):
    data = post(client, {"text": "Where is the station?", "beam": 4, "nbest": 3}).json()
    alternatives = data["alternatives"]
    assert len(alternatives) == 3
    assert alternatives[0]["text"] == data["translation"]
    scores = [a["score"] for a in alternatives]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("per_head", [False, True])
def test_attention_shapes_and_rows_sum_to_one(client, tiny_translator, per_head):
    key = "attention_heads" if per_head else "attention"
    att = post(client, {"text": "He reads a book.", key: True}).json()["attention"]
    cfg = tiny_translator.loaded.config.model
    layers, heads = cfg.decoder_layers, cfg.n_heads
    tokens_t, tokens_s = len(att["tgt_tokens"]), len(att["src_tokens"])
    assert att["tgt_tokens"][-1] == "</s>" and (att["layers"], att["heads"]) == (layers, heads)
    maps = att["weights"] if not per_head else [h for layer in att["weights"] for h in layer]
    assert len(att["weights"]) == layers
    assert len(maps) == (layers * heads if per_head else layers)
    for matrix in maps:
        assert len(matrix) == tokens_t and all(len(row) == tokens_s for row in matrix)
        assert all(abs(sum(row) - 1) < 1e-2 for row in matrix)  # softmax rows, rounded


@pytest.mark.parametrize("body, status, message", [
    (b"{bad json", 400, "malformed JSON at line 1"),
    (b'{"text": "caf\xc3"}', 400, "not valid UTF-8"),
    (b"", 400, "empty request body"),
    (b"[1, 2]", 422, "valid dictionary"),
    (b"{}", 422, "exactly one of"),
    (b'{"text": "a", "texts": ["b"]}', 422, "exactly one of"),
    (b'{"texts": "not a list"}', 422, "texts"),
    (b'{"text": 42}', 422, "text"),
    (b'{"text": "a", "colour": "red"}', 422, "colour"),
    (b'{"text": "a", "beam": 0}', 422, "beam"),
    (b'{"text": "a", "beam": true}', 422, "beam"),
    (b'{"text": "a", "beam": "4"}', 422, "beam"),
    (b'{"text": "a", "attention": 1}', 422, "attention"),
    (b'{"text": "a", "beam": 99}', 422, "larger than this server allows"),
    (b'{"text": "a", "beam": 2, "nbest": 3}', 422, "nbest (3) must be <= beam (2)"),
    (b'{"text": "\\ud800"}', 422, "surrogate"),
    (b"[" * 50_000, 400, "nested too deeply"),
])
def test_bad_input_gets_json_error(client, body, status, message):
    r = client.post("/api/translate", content=body,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["status"] == status and message in r.json()["error"]


def test_limits_answer_413(client):
    r = post(client, {"text": "a" * 5001})
    assert r.status_code == 413 and "5001 characters" in r.json()["error"]
    r = post(client, {"texts": ["hi"] * 65})
    assert r.status_code == 413 and "too many texts" in r.json()["error"]
    r = client.post("/api/translate", content=b" " * 5_000_000,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]


def test_only_json_is_accepted_and_other_sites_get_no_cors_by_default(fake_translator):
    """A text/plain POST is what a foreign web page can send without a CORS preflight:
    refuse it (415); and answer no preflight unless --cors-origins allows the origin."""
    body = b'{"text": "hi"}'
    with TestClient(create_app(fake_translator(), ServeConfig(warmup=False))) as c:
        for kind in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {"Content-Type": kind} if kind else {}
            r = c.post("/api/translate", content=body, headers=headers)
            assert r.status_code == 415 and "application/json" in r.json()["error"], kind
        ok = c.post("/api/translate", content=body,
                    headers={"Content-Type": "application/json; charset=utf-8"})
        assert ok.status_code == 200
        preflight = c.options("/api/translate", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers
    cfg = ServeConfig(warmup=False, cors_origins=["https://good.example"])
    with TestClient(create_app(fake_translator(), cfg)) as c:
        asked = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
        good = c.options("/api/translate", headers={"Origin": "https://good.example", **asked})
        assert good.headers["access-control-allow-origin"] == "https://good.example"
        evil = c.options("/api/translate", headers={"Origin": "https://evil.example", **asked})
        assert "access-control-allow-origin" not in evil.headers


def test_health_and_unknown_routes(client, tiny_translator):
    data = client.get("/api/health").json()
    assert data["status"] == "ok" and data["model"] == tiny_translator.name and data["version"]
    assert data["engine"] == "torch" and data["attention"] is True
    assert data["uptime_s"] >= 0 and data["queue"]["capacity"] == 256
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.json()["error"]
    assert client.get("/api/translate").status_code == 405


def test_page_and_docs_use_only_local_assets(client):
    for page in ("/", "/docs"):
        html = client.get(page).text
        assert client.get(page).status_code == 200
        urls = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', html)
        assert urls, page
        for url in urls:
            assert not re.match(r"(https?:)?//", url), f"{page} loads {url} from outside"
            assert client.get(url).status_code == 200, url
    assert "textarea" in client.get("/").text
    assert client.get("/openapi.json").json()["paths"]["/api/translate"]["post"]["requestBody"]


def test_full_queue_answers_503_and_timeout_504(fake_translator):
    gate = threading.Event()
    fake = fake_translator(gate)
    cfg = ServeConfig(queue_size=2, timeout_s=0.5, max_batch=1, warmup=False)
    with TestClient(create_app(fake, cfg)) as c:
        first = post(c, {"text": "held"})  # runs, blocks on the gate, times out
        assert first.status_code == 504 and "no translation within" in first.json()["error"]
        assert post(c, {"texts": ["a", "b"]}).status_code == 504  # queued behind it
        r = post(c, {"text": "one too many"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert "busy" in r.json()["error"]
        gate.set()
        deadline = time.monotonic() + 5
        while c.get("/api/health").json()["queue"]["waiting"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert post(c, {"text": "free again"}).json()["translation"] == "FREE AGAIN"


def test_a_request_that_times_out_stops_its_work_and_health_reports_a_stall(fake_translator):
    class Stoppable(fake_translator):  # a model that asks `cancel` between steps, as ours does
        def translate(self, texts, decode=None, need_attention=False, cancel=None):
            self.entered.set()
            while not self.gate.wait(0.01):
                if cancel is not None and cancel():
                    raise Cancelled("translation cancelled")
            return super().translate(texts, decode, need_attention)

    gate = threading.Event()
    cfg = ServeConfig(timeout_s=0.5, max_batch=1, warmup=False)
    with TestClient(create_app(Stoppable(gate), cfg)) as c:
        assert post(c, {"text": "\x00\x01 binary garbage"}).status_code == 504
        deadline = time.monotonic() + 5
        while (c.get("/api/health").json()["queue"]["cancelled"] < 1
               and time.monotonic() < deadline):
            time.sleep(0.05)
        health = c.get("/api/health").json()
        assert health["queue"]["cancelled"] == 1 and health["status"] == "ok"
    stuck = fake_translator(threading.Event())  # ignores cancel: a worker that is stuck
    with TestClient(create_app(stuck, cfg)) as c:
        worker = threading.Thread(target=post, args=(c, {"text": "slow"}))
        worker.start()
        assert stuck.entered.wait(5)
        time.sleep(0.7)  # longer than timeout_s
        assert c.get("/api/health").json()["status"] == "degraded"
        stuck.gate.set()
        worker.join(5)
        assert c.get("/api/health").json()["status"] == "ok"


def test_a_search_stopped_at_its_deadline_is_a_504_not_a_400(fake_translator):
    """The worker stops a batch whose every request is past its deadline; when it does so
    a moment before the waiting request looks at its clock, the request still gets 504
    (it had got 400 once in the suite: the Cancelled error taken for bad input)."""
    class StopsAtOnce(fake_translator):
        def translate(self, texts, decode=None, need_attention=False, cancel=None):
            raise Cancelled("translation cancelled")

    with TestClient(create_app(StopsAtOnce(), ServeConfig(warmup=False))) as c:
        assert post(c, {"text": "hello"}).status_code == 504
        r = c.post("/api/translate_file", files={"file": ("a.txt", b"hello")})
        assert r.status_code == 504, r.text


def test_event_loop_stays_free_while_the_model_works(fake_translator):
    gate = threading.Event()
    fake = fake_translator(gate)
    with TestClient(create_app(fake, ServeConfig(warmup=False))) as c:
        worker = threading.Thread(target=post, args=(c, {"text": "slow"}))
        worker.start()
        assert fake.entered.wait(5)
        t0 = time.perf_counter()
        assert c.get("/api/health").status_code == 200  # answered while translate() blocks
        assert time.perf_counter() - t0 < 2
        gate.set()
        worker.join(5)


def test_start_up_translates_one_full_batch_before_serving(fake_translator):
    fake = fake_translator()
    with TestClient(create_app(fake, ServeConfig(max_batch=7))) as c:
        assert fake.calls == [[WARMUP_TEXT] * 7]  # before any request
        assert c.get("/api/health").json()["queue"]["batches"] == 1
        assert post(c, {"text": "hi"}).json()["translation"] == "HI"
    cold = fake_translator()
    with TestClient(create_app(cold, ServeConfig(warmup=False))):
        assert cold.calls == []


def test_serve_flags_become_the_serve_config():
    from hanyi.cli.__main__ import build_parser
    from hanyi.cli.serve import serve_config

    args = build_parser().parse_args(["serve", "--no-warmup", "--max-batch", "4",
                                      "--timeout", "2.5"])
    assert serve_config(args) == ServeConfig(warmup=False, max_batch=4, timeout_s=2.5)
    assert serve_config(build_parser().parse_args(["serve"])) == ServeConfig()


def test_serve_reads_the_model_s_section_then_config_then_flags(tmp_path):
    from hanyi.cli.__main__ import build_parser
    from hanyi.cli.serve import serve_config

    cfg = tmp_path / "serve.yaml"
    cfg.write_text("serve: {port: 9001, max_texts: 7, timeout_s: 9.5}\n", encoding="utf-8")
    model_section = ServeConfig(max_texts=3, max_beam=5, port=8100)
    args = build_parser().parse_args(["serve", "--config", str(cfg), "--timeout", "2"])
    assert serve_config(args, model_section) == ServeConfig(port=9001, max_texts=7,
                                                            timeout_s=2.0, max_beam=5)
    cfg.write_text("serve: {prot: 1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown config key 'serve.prot'"):
        serve_config(args)


def test_serve_cli_reports_a_missing_model(tmp_path, capsys):
    from hanyi.cli.__main__ import main

    assert main(["serve", "--model", str(tmp_path / "missing")]) == 2
    assert "model directory not found" in capsys.readouterr().err
    assert main(["serve", "--model", str(tmp_path), "--port", "70000"]) == 2
    assert "serve.port" in capsys.readouterr().err


def test_a_port_in_use_is_one_clear_error():
    import socket

    from hanyi.cli.serve import check_port_free

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is already in use"):
            check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", port)  # free again


def test_a_body_that_trickles_in_gets_408():
    import asyncio

    from hanyi.serving.app import ApiError, read_json

    class Trickle:  # the part of a starlette Request that read_json uses
        headers = {"content-type": "application/json"}

        async def stream(self):
            for byte in b'{"text": "hi"}':
                await asyncio.sleep(0.05)
                yield bytes([byte])

    with pytest.raises(ApiError) as caught:
        asyncio.run(read_json(Trickle(), 1000, body_timeout_s=0.2))
    assert caught.value.status == 408
    assert asyncio.run(read_json(Trickle(), 1000, body_timeout_s=5)) == {"text": "hi"}


def test_glossary_and_keep_terms_through_the_api(fake_translator):
    """The fake upper-cases what it is given, so a slot (a number) survives and comes back
    as the glossary's Chinese or the kept term."""
    with TestClient(create_app(fake_translator(), ServeConfig(warmup=False))) as c:
        r = post(c, {"text": "The tax return of Acme Corp is due.",
                     "glossary": {"tax return": "纳税申报表"}, "keep": ["Acme Corp"]})
        assert r.status_code == 200, r.text
        assert r.json()["translation"] == "THE 纳税申报表 OF Acme Corp IS DUE."
        r = post(c, {"text": "hi", "glossary": {f"t{i}": "x" for i in range(1001)}})
        assert r.status_code == 413 and "glossary" in r.json()["error"]


def test_a_file_comes_back_translated_in_its_format(fake_translator):
    import srt as srtlib

    subtitles = ("1\n00:00:01,000 --> 00:00:02,000\nhello there\n\n"
                 "2\n00:00:03,000 --> 00:00:04,000\ntax return\n")
    with TestClient(create_app(fake_translator(), ServeConfig(warmup=False))) as c:
        r = c.post("/api/translate_file", files={"file": ("film.srt", subtitles.encode())},
                   data={"glossary": '{"tax return": "纳税申报表"}'})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/x-subrip")
        assert 'filename="film.zh.srt"' in r.headers["content-disposition"]
        cues = list(srtlib.parse(r.text))
        assert [c.content for c in cues] == ["HELLO THERE", "纳税申报表"]
        bad = c.post("/api/translate_file", files={"file": ("x.txt", b"\xff\xfe")})
        assert bad.status_code == 400 and "not UTF-8" in bad.json()["error"]
        big = c.post("/api/translate_file", files={"file": ("x.txt", b"a" * 1_000_001)})
        assert big.status_code == 413
