"""Bad-input fuzzing of POST /api/translate with hypothesis (in-process TestClient).

Whatever arrives (random Unicode with emoji, control characters, lone surrogates and HTML,
100 kB strings, random JSON values, raw bytes), the answer is valid JSON with a 2xx or 4xx
status, never a 500. The model is the tiny one with short outputs, so examples stay fast.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hanyi.config import ServeConfig
from hanyi.inference import Translator
from hanyi.serving import create_app

SPECIALS = ["😀", "👩‍👩‍👧", "🇨🇳", "\u0000", "\u0007", "\u001b[31m", "\u200b", "\u202e", "\ufeff",
            "<script>alert(1)</script>", "<b>bold</b>", "&amp;&lt;", "\r\n", "\t", "中文",
            "ｆｕｌｌ",
            "e\u0301", "\U0001d54f", "\\", '"', "\ud800", "\udfff"]
# Every code point hypothesis knows, lone surrogates (category Cs) included.
ANY_CHAR = st.characters(codec=None, exclude_categories=())
TEXT = st.lists(st.one_of(st.text(ANY_CHAR, max_size=20), st.sampled_from(SPECIALS)),
                max_size=12).map("".join)
HUGE = st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "汉", "😀", " "]),
                 st.integers(100_000, 110_000))
OPTION = st.one_of(st.none(), st.booleans(), st.integers(-3, 12), st.floats(allow_nan=True),
                   st.text(max_size=5))
JSON_VALUE = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                    TEXT), lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                          max_leaves=12)
WELL_FORMED = st.one_of(  # reach the model: random text, valid options
    st.fixed_dictionaries({"text": TEXT}, optional={"beam": st.integers(1, 4),
                                                    "attention": st.booleans(),
                                                    "attention_heads": st.booleans()}),
    st.fixed_dictionaries({"texts": st.lists(TEXT, max_size=5)},
                          optional={"beam": st.integers(1, 3), "attention": st.booleans()}))
MALFORMED = st.one_of(  # wrong types and values, huge texts, any JSON at all
    st.fixed_dictionaries({"text": st.one_of(TEXT, HUGE)},
                          optional={"beam": OPTION, "nbest": OPTION, "attention": OPTION,
                                    "attention_heads": OPTION}),
    st.fixed_dictionaries({"texts": st.lists(st.one_of(TEXT, JSON_VALUE), max_size=5)},
                          optional={"beam": OPTION, "attention": OPTION}),
    JSON_VALUE)
REQUEST = st.one_of(WELL_FORMED, WELL_FORMED, MALFORMED)


@pytest.fixture(scope="module")
def fuzz_client(tiny_model_dir):
    translator = Translator.load(tiny_model_dir, overrides=[
        "decode.beam_size=1", "decode.max_len_a=0.5", "decode.max_len_b=8"])
    with TestClient(create_app(translator, ServeConfig()), raise_server_exceptions=False) as c:
        yield c


def check(response) -> None:
    assert response.status_code in (200, 400, 413, 422), (response.status_code, response.text)
    data = response.json()  # always JSON
    if response.status_code == 200:
        assert isinstance(data.get("translation", data.get("translations")), (str, list))
    else:
        assert data["status"] == response.status_code and data["error"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=REQUEST)
def test_random_json_requests_get_a_json_answer(fuzz_client, body):
    # ensure_ascii=True writes lone surrogates as \\udXXX escapes: still valid JSON text
    check(fuzz_client.post("/api/translate", content=json.dumps(body).encode("utf-8"),
                           headers={"Content-Type": "application/json"}))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.one_of(st.binary(max_size=300),
                     TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_random_bytes_get_a_json_answer(fuzz_client, raw):
    check(fuzz_client.post("/api/translate", content=raw,
                           headers={"Content-Type": "application/json"}))
