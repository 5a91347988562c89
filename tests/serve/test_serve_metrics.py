"""/metrics (Prometheus text format) and the translation cache."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

from hanyi.config import ExperimentConfig, ServeConfig
from hanyi.inference import Translator
from hanyi.inference.cache import TranslationCache
from hanyi.serving import create_app


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{labels} not in /metrics"
    return float(match.group(1))


def test_metrics_are_off_unless_asked(fake_translator):
    with TestClient(create_app(fake_translator(), ServeConfig(warmup=False))) as c:
        assert c.get("/metrics").status_code == 404


def test_metrics_count_requests_batches_characters_and_queue(fake_translator):
    cfg = ServeConfig(warmup=False, metrics=True)
    with TestClient(create_app(fake_translator(), cfg)) as c:
        c.post("/api/translate", json={"texts": ["hello", "tea"]})
        c.post("/api/translate", json={"text": "x", "beam": 99})  # 422
        c.get("/api/health")
        c.get("/api/nope-1")
        c.get("/api/nope-2")
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert sample(text, "hanyi_requests_total", '{path="/api/translate",status="200"}') == 1
    assert sample(text, "hanyi_requests_total", '{path="/api/translate",status="422"}') == 1
    assert sample(text, "hanyi_requests_total", '{path="/api/other",status="404"}') == 2
    assert sample(text, "hanyi_request_seconds_count", '{path="/api/translate"}') == 2
    assert sample(text, "hanyi_batch_texts_count") == 1
    assert sample(text, "hanyi_batch_texts_sum") == 2
    assert sample(text, "hanyi_characters_translated_total") == len("hello") + len("tea")
    assert sample(text, "hanyi_queue_texts") == 0
    assert "hanyi_cache_hits_total" in text and "hanyi_cache_misses_total" in text


def test_repeated_sentences_come_from_the_cache(random_model, toy_vocabs):
    # a random model's outputs loop: the loop retry would search them again (and count)
    no_retry = dataclasses.replace(ExperimentConfig().decode, loop_retry_ngram=0)
    translator = Translator.from_model(random_model, ExperimentConfig(), *toy_vocabs,
                                       decode=no_retry)
    cache = translator.enable_cache(100)
    calls = []
    search = translator.engine.search
    translator.engine.search = lambda batch, *a, **k: calls.append(len(batch)) or search(
        batch, *a, **k)
    first = translator.translate(["Tom likes tea.", "I see a cat.", ""])
    again = translator.translate(["Tom likes tea.", "\uff34om likes tea.", "We read books."])
    assert calls == [2, 1]  # only "We read books." was new (full-width Ｔ normalises to T)
    assert again[0].text == first[0].text == again[1].text
    assert cache.stats.hits == 2 and cache.stats.misses == 3 and len(cache) == 3
    greedy = translator.with_options(beam_size=1, nbest=1)
    translator.translate(["Tom likes tea."], greedy)  # other settings: another entry
    assert calls == [2, 1, 1]
    translator.translate(["Tom likes tea."], need_attention=True)  # never from the cache
    assert calls == [2, 1, 1, 1]


def test_the_cache_drops_the_least_recently_used():
    cache = TranslationCache(2, "m")
    for text in ("a", "b"):
        cache.put(("m", (), text), text.upper())
    assert cache.get(("m", (), "a")) == "A"  # "a" is now the most recent
    cache.put(("m", (), "c"), "C")
    assert cache.get(("m", (), "b")) is None and cache.get(("m", (), "a")) == "A"
    with pytest.raises(ValueError):
        TranslationCache(0, "m")
