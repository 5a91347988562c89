"""API keys and rate limits (serving/access.py): 401/403, constant-time comparison, keys
never logged, token buckets that answer 429 with Retry-After and refill."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from hanyi.config import Rate, ServeConfig
from hanyi.errors import ConfigError
from hanyi.serving import access, create_app
from hanyi.serving.access import RateLimiter, RedactKeys, TokenBucket, load_api_keys

KEY, OTHER = "alice-key-0123456789", "wiki-key-abcdefghij"


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text(f"# team keys\n{KEY}\n\n{OTHER}  rate=2/min chars=100/min  # the wiki\n",
                    encoding="utf-8")
    return path


def test_keys_file_is_parsed_with_per_key_limits(keys_file, tmp_path):
    keys = load_api_keys(keys_file)
    assert set(keys) == {KEY, OTHER}
    assert keys[KEY].rate is None and keys[OTHER].rate == Rate(2, 60)
    assert keys[OTHER].chars == Rate(100, 60)
    bad = tmp_path / "bad.txt"
    for text, message in ((f"{KEY}\n{KEY}\n", ":2: this key is listed twice"),
                          ("short\n", ":1: an API key needs at least 8"),
                          (f"{KEY} rate=fast\n", ":1: 'fast' is not a rate"),
                          (f"{KEY} colour=red\n", ":1: unknown option 'colour'"),
                          ("# nothing\n", "holds no API keys")):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_api_keys(bad)


def post(client, body, **kwargs):
    return client.post("/api/translate", json=body, **kwargs)


def test_a_key_is_needed_wrong_keys_are_refused_and_health_stays_open(fake_translator,
                                                                       keys_file):
    cfg = ServeConfig(warmup=False, api_keys_file=str(keys_file))
    with TestClient(create_app(fake_translator(), cfg)) as c:
        r = post(c, {"text": "hi"})
        assert r.status_code == 401 and "API key" in r.json()["error"]
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert post(c, {"text": "hi"}, headers={"Authorization": "Bearer nope-nope-nope"}
                    ).status_code == 403
        assert post(c, {"text": "hi", "api_key": "nope-nope-nope"}).status_code == 403
        assert post(c, {"text": "hi"}, headers={"Authorization": f"Bearer {KEY}"}
                    ).json()["translation"] == "HI"
        assert post(c, {"text": "hi", "api_key": KEY}).status_code == 200  # LibreTranslate
        assert c.post(f"/api/translate?api_key={KEY}", json={"text": "hi"}).status_code == 200
        assert c.get("/api/health").status_code == 200  # for load balancers and HEALTHCHECK


def test_keys_are_compared_in_constant_time_with_every_key(monkeypatch, keys_file):
    calls = []
    real = access.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    keys = load_api_keys(keys_file)
    assert access.find_key(KEY, keys) == KEY
    assert len(calls) == 2  # it did not stop at the first match
    assert access.find_key("nope-nope-nope", keys) is None and len(calls) == 4


def test_keys_never_reach_the_log(fake_translator, keys_file, caplog):
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "POST", f"/api/translate?api_key={KEY}",
                                "1.1", 200), None)
    RedactKeys().filter(record)
    assert KEY not in record.getMessage() and "api_key=[redacted]" in record.getMessage()
    cfg = ServeConfig(warmup=False, api_keys_file=str(keys_file))
    with caplog.at_level(logging.DEBUG), TestClient(create_app(fake_translator(), cfg)) as c:
        post(c, {"text": "hi", "api_key": KEY})
        post(c, {"text": "hi"}, headers={"Authorization": f"Bearer {OTHER}-wrong"})
    assert KEY not in caplog.text and OTHER not in caplog.text
    assert any(isinstance(f, RedactKeys) for f in logging.getLogger("uvicorn.access").filters)


def test_token_bucket_refuses_then_refills():
    now = [0.0]
    bucket = TokenBucket(Rate(2, 60), clock=lambda: now[0])
    assert bucket.take(1) == 0.0 and bucket.take(1) == 0.0
    assert bucket.take(1) == pytest.approx(30.0)  # one token every 30 s
    now[0] = 29.0
    assert bucket.take(1) == pytest.approx(1.0)
    now[0] = 30.0
    assert bucket.take(1) == 0.0
    assert bucket.take(3) == float("inf")  # more than it can ever hold


def test_character_limit_gives_the_request_token_back():
    limiter = RateLimiter(Rate(10, 60), Rate(100, 60), clock=lambda: 0.0)
    assert limiter.check("ip", 80) == 0.0
    assert limiter.check("ip", 50) > 0  # characters short
    requests, _ = limiter._pair("ip")
    assert requests.tokens == pytest.approx(9.0)  # the refused request was not counted


def test_over_the_limit_is_429_with_retry_after_per_key(fake_translator, keys_file):
    cfg = ServeConfig(warmup=False, api_keys_file=str(keys_file), rate_limit="5/min")
    with TestClient(create_app(fake_translator(), cfg)) as c:
        wiki = {"Authorization": f"Bearer {OTHER}"}  # its own limit: 2/min
        assert [post(c, {"text": "hi"}, headers=wiki).status_code for _ in range(2)] == [200,
                                                                                      200]
        r = post(c, {"text": "hi"}, headers=wiki)
        assert r.status_code == 429 and 25 <= int(r.headers["Retry-After"]) <= 30
        alice = {"Authorization": f"Bearer {KEY}"}  # the server's 5/min, her own bucket
        assert [post(c, {"text": "hi"}, headers=alice).status_code for _ in range(6)] == [
            200] * 5 + [429]
        r = post(c, {"text": "x" * 101}, headers={"Authorization": f"Bearer {OTHER}"})
        assert r.status_code == 429  # more characters than its bucket holds


def test_without_keys_the_limit_is_per_client_address(fake_translator):
    cfg = ServeConfig(warmup=False, rate_limit="1/min")
    with TestClient(create_app(fake_translator(), cfg)) as c:
        assert post(c, {"text": "hi"}).status_code == 200
        assert post(c, {"text": "hi"}).status_code == 429
    with pytest.raises(ConfigError, match="serve.rate_limit: 'lots' is not a rate"):
        ServeConfig(rate_limit="lots")
