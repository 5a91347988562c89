"""Fixtures for the `hanyi serve` tests.

* ``tiny_translator``: the ``tiny_run`` model (a real trained checkpoint), loaded once;
  $HANYI_SERVE_TEST_MODEL names another model directory instead.
* ``client``: a TestClient for the app around it (lifespan on, so the batcher runs).
* ``FakeTranslator``: a test double with the Translator interface whose ``translate`` can
  be held on an event, to make the queue fill up or a request time out on purpose.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from hanyi.config import DecodeConfig, ServeConfig
from hanyi.inference import Translation, Translator
from hanyi.inference.cache import TranslationCache
from hanyi.serving import create_app


@pytest.fixture(scope="session")
def tiny_model_dir(request) -> Path:
    """$HANYI_SERVE_TEST_MODEL (any model dir, e.g. the shipped one), else tiny_run's."""
    if os.environ.get("HANYI_SERVE_TEST_MODEL"):
        return Path(os.environ["HANYI_SERVE_TEST_MODEL"])
    return request.getfixturevalue("tiny_run") / "run" / "best"


@pytest.fixture(scope="session")
def tiny_translator(tiny_model_dir) -> Translator:
    return Translator.load(tiny_model_dir)


@pytest.fixture(scope="module")
def client(tiny_translator):
    with TestClient(create_app(tiny_translator, ServeConfig())) as test_client:
        yield test_client


class FakeTranslator:
    """Echoes its input upper-cased; ``gate`` (when set) holds every call until released."""

    source_language, target_language = "en", "zh"
    engine_name, returns_attention = "fake", False
    aligns = True  # word i of the output attends to word i of the input (documents/align.py)
    src_vocab = type("WordVocab", (), {"encode": staticmethod(str.split)})()  # for documents

    def __init__(self, gate: threading.Event | None = None, delay_s: float = 0.0):
        self.decode_cfg = DecodeConfig(beam_size=1)
        self.gate, self.delay_s = gate, delay_s
        self.entered = threading.Event()
        self.name, self.device = "fake", "cpu"
        self.loaded = type("Loaded", (), {"meta": {}})()
        self.calls: list[list[str]] = []

    @staticmethod
    def normalize(text: str) -> str:
        return text

    def enable_cache(self, max_entries):
        return TranslationCache(max_entries, "fake")  # the fake keeps no translations

    def with_options(self, **changes) -> DecodeConfig:
        return dataclasses.replace(self.decode_cfg, **changes)

    def fallback_terms(self, cfg):  # no lexicon fallback (inference/lexicon.py)
        return None

    def translate(self, texts, decode=None, need_attention=False, cancel=None):
        self.calls.append(list(texts))
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        flags = ([need_attention] * len(texts) if isinstance(need_attention, bool)
                 else need_attention)  # one flag for all, or one per text
        return [self._translation(text, flag) for text, flag in zip(texts, flags, strict=True)]

    @staticmethod
    def _translation(text: str, need_attention: bool) -> Translation:
        out = Translation(text.upper(), score=-1.0)
        words = text.split()
        if need_attention and words:  # one piece a word, each output word on its own
            out.src_tokens = ["▁" + w for w in words]
            out.tgt_tokens = ["▁" + w.upper() for w in words] + ["</s>"]
            out.attention = torch.eye(len(words) + 1, len(words))[None, None]
        return out


@pytest.fixture
def fake_translator():
    """The FakeTranslator class (a factory: ``fake_translator(gate)``)."""
    return FakeTranslator
