"""`Translator`: the whole inference pipeline behind one method.

    tr = Translator.load("models/hanyi-en-zh")
    [t.text for t in tr.translate(["How are you?", ""])]   # ['你好吗？', '']

The source is normalised exactly as in `prepare`, encoded with the model's own
SentencePiece model, sorted by length into batches (less padding), searched with the
configured strategy, then decoded and detokenised. Output order and count always match
the input; an empty line gives an empty translation.

The search itself runs in an *engine*: :class:`TorchEngine` (our PyTorch model, optionally
int8-quantized) for a model directory, or :class:`CT2Engine` for a directory written by
``hanyi export`` (detected by its ``hanyi_export.json``) — or for a model directory that
carries its own export, which ``engine="auto"`` prefers on a CPU (:func:`pick_export`).
Both share everything else here, so their outputs differ only by arithmetic.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hanyi.checkpoint import (
    BUNDLED_EXPORT,
    LoadedModel,
    bundled_export,
    is_export_dir,
    load_config_file,
    load_export_dir,
    load_model_dir,
)
from hanyi.config import DecodeConfig, ExperimentConfig, decode_with_overrides
from hanyi.decoding import Cancel, Hypothesis
from hanyi.decoding.constraints import loop_end
from hanyi.errors import ConfigError
from hanyi.inference.cache import TranslationCache
from hanyi.inference.confidence import confidence, load_calibration, mean_log_prob
from hanyi.inference.ct2_engine import CT2Engine
from hanyi.inference.lexicon import LexiconFallback
from hanyi.inference.numbers import first_keeping_numbers, keeps_numbers
from hanyi.inference.torch_engine import TorchEngine
from hanyi.tokenization import Vocab
from hanyi.tokenization.languages import detokenizer, languages, normalizer
from hanyi.tokenization.script import is_in_language

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "hanyi-en-zh"


def default_model_path() -> Path:
    """The shipped model: $HANYI_MODEL, else ``models/hanyi-en-zh`` of the source tree."""
    env = os.environ.get("HANYI_MODEL")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "models" / DEFAULT_MODEL_NAME


ENGINES = ("auto", "torch", "ctranslate2")


def pick_export(path: Path, engine: str, device: torch.device, quantize: str) -> Path | None:
    """The CTranslate2 export directory to search with, or None for PyTorch.

    ``torch`` and ``ctranslate2`` mean what they say (an error if the directory cannot do
    it); ``auto`` takes the CTranslate2 export when ``path`` is one, or holds its own
    (``path/ctranslate2``, see :func:`hanyi.checkpoint.bundled_export`) and the device is a
    CPU, CTranslate2 is installed and PyTorch's int8 was not asked for — the shipped
    model thus runs CTranslate2 int8 by default, and ``--engine torch`` runs its PyTorch
    weights (the same model, fp32 arithmetic)."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if is_export_dir(path):
        if engine == "torch":
            raise ConfigError(f"{path} is a CTranslate2 export: it holds no PyTorch weights "
                              f"(--engine torch needs the model directory it came from)")
        if quantize != "none":
            raise ConfigError(f"{path} is a CTranslate2 export: its weight type was fixed at "
                              f"export (hanyi export --quantization); drop --quantize")
        return path
    if engine == "torch":
        return None
    export = bundled_export(path) if path.is_dir() else None
    if engine == "ctranslate2":
        if export is None:
            raise ConfigError(f"{path} holds no CTranslate2 export: make one with hanyi export "
                              f"{path} --out {path / BUNDLED_EXPORT}")
        if quantize != "none":
            raise ConfigError("--quantize is for the PyTorch engine; the export's weight type "
                              "was fixed at export")
        return export
    if export is None or quantize != "none" or device.type != "cpu":
        return None
    if importlib.util.find_spec("ctranslate2") is None:
        log.info("%s has a CTranslate2 export but CTranslate2 is not installed "
                 "(pip install 'hanyi[export]'): using PyTorch", path)
        return None
    return export


@dataclass
class Translation:
    text: str
    score: float = 0.0  # length-normalised log-probability of the best hypothesis
    confidence: float = 1.0  # 0..1, see inference/confidence.py (1.0 for an empty input)
    token_log_prob: float = 0.0  # mean log-probability per output token (EOS included)
    passed_through: bool = False  # not in the source language's script: returned unchanged
    # n-best, best first: (text, score, confidence)
    alternatives: list[tuple[str, float, float]] = field(default_factory=list)
    src_tokens: list[str] = field(default_factory=list)
    tgt_tokens: list[str] = field(default_factory=list)  # ends with "</s>"
    attention: torch.Tensor | None = None  # (L, H, T, S) cross-attention, if asked


class Translator:
    def __init__(self, loaded: LoadedModel, decode: DecodeConfig | None = None,
                 device: torch.device | str = "cpu", engine=None):
        self.loaded = loaded
        self.model = loaded.model  # None for a CTranslate2 export
        self.src_vocab, self.tgt_vocab = loaded.src_vocab, loaded.tgt_vocab
        self._decode = decode or loaded.config.decode
        self.source_language, self.target_language = languages(loaded.config.direction)
        self.normalize = normalizer(self.source_language)
        self._detokenize = detokenizer(self.target_language)
        self.device = torch.device(device)
        self.engine = engine or TorchEngine(loaded.model, self.src_vocab.pad_id, self.device)
        self.cache: TranslationCache | None = None  # enable_cache() turns it on
        self.calibration = load_calibration(loaded.path)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu",
             overrides: list[str] | tuple[str, ...] = (), quantize: str = "none",
             threads: int = 0, engine: str = "auto") -> Translator:
        """A model directory or a ``hanyi export`` directory, searched by ``engine``
        (:func:`pick_export`: ``auto`` takes a model directory's own CTranslate2 export on
        a CPU, else its PyTorch weights; ``quantize="int8"``: PyTorch's dynamic int8).
        ``threads``: CTranslate2's intra-op threads (0 = its default). Decode settings are
        the model directory's own, changed by ``overrides`` (``"decode.beam_size=1"``, as
        ``--set`` writes them; see :func:`hanyi.config.decode_with_overrides`); one call
        can still pass its own."""
        path = Path(path)
        export = pick_export(path, engine, torch.device(device), quantize)
        if export is None:
            loaded = load_model_dir(path, device)
            searcher = TorchEngine(loaded.model, loaded.src_vocab.pad_id, device, quantize)
        else:
            loaded = load_export_dir(export)
            if export != path:  # the directory's own export: the directory's settings
                loaded = dataclasses.replace(loaded, config=load_config_file(path), path=path)
            searcher = CT2Engine(export, loaded.src_vocab, loaded.tgt_vocab,
                                 device=torch.device(device).type, threads=threads)
        decode = decode_with_overrides(loaded.config.decode, list(overrides))
        return cls(loaded, decode, device, searcher)

    @classmethod
    def from_model(cls, model, config: ExperimentConfig, src_vocab: Vocab, tgt_vocab: Vocab,
                   decode: DecodeConfig | None = None,
                   device: torch.device | str = "cpu") -> Translator:
        """A Translator around a model in memory (e.g. the one being trained: dev BLEU goes
        through exactly the pipeline `hanyi translate` uses)."""
        return cls(LoadedModel(model, config, src_vocab, tgt_vocab), decode, device)

    @property
    def decode_cfg(self) -> DecodeConfig:
        """The default decode settings of every call (fixed when the Translator is made;
        a call passes ``decode=`` for others, see :meth:`with_options`)."""
        return self._decode

    @property
    def engine_name(self) -> str:
        return self.engine.name

    @property
    def returns_attention(self) -> bool:
        """Whether ``translate(..., need_attention=True)`` gives every layer's and head's
        weights (PyTorch engines only; see :attr:`aligns`)."""
        return self.engine.returns_attention

    @property
    def aligns(self) -> bool:
        """Whether ``translate(..., need_attention=True)`` gives at least the last decoder
        layer's head-mean cross-attention (``attention[-1].mean(0)``): both engines do, the
        CTranslate2 one as (1, 1, T, S) only."""
        return getattr(self.engine, "aligns", self.engine.returns_attention)

    @property
    def name(self) -> str:
        return self.loaded.path.name if self.loaded.path else "in-memory"

    @functools.cached_property
    def lexicon(self) -> LexiconFallback | None:
        """The lexicon fallback (inference/lexicon.py): the model's training-word counts,
        read on first use; None for a model without them or whose source is not English."""
        return LexiconFallback.load(self.loaded.path) if self.source_language == "en" else None

    def fallback_terms(self, cfg: DecodeConfig) -> Callable[[str], dict[str, str]] | None:
        """text -> the lexicon fallback's terms for it, or None when there is none or
        ``decode.lexicon_fallback`` is -1."""
        lexicon = self.lexicon
        if cfg.lexicon_fallback < 0 or lexicon is None:
            return None
        return lambda text: lexicon.terms(text, cfg.lexicon_fallback, cfg.lexicon_names)

    def with_options(self, **changes) -> DecodeConfig:
        """The model's decode config with some fields changed (validated)."""
        return dataclasses.replace(self.decode_cfg, **changes)

    def encode(self, text: str) -> list[int]:
        ids = self.src_vocab.encode(self.normalize(text))
        limit = min(self.decode_cfg.max_input_tokens, self.loaded.config.model.max_positions)
        if len(ids) > limit:
            log.warning("input of %d tokens cut to %d", len(ids), limit)
            ids = ids[:limit]
        return ids

    def detokenize(self, tokens: list[int]) -> str:
        return self._detokenize(self.tgt_vocab.decode(tokens))

    def translate(self, texts: list[str], decode: DecodeConfig | None = None,
                  need_attention: bool | Sequence[bool] = False,
                  cancel: Cancel | None = None) -> list[Translation]:
        """One Translation per text, in order. ``need_attention``: for every text, or one
        flag per text (documents/text.py asks only for the sentences whose inline markup
        it places: they are batched apart from the rest, so that only their batches, and
        at most one batch shared with the rest, are searched with attention). A text that
        asks bypasses the cache; one that does not gets ``attention=None``. ``cancel()``,
        if given, is asked between decoding steps; when it says True the call raises
        :class:`~hanyi.errors.Cancelled`."""
        cfg = decode or self.decode_cfg
        wants = ([bool(need_attention)] * len(texts) if isinstance(need_attention, bool)
                 else [bool(w) for w in need_attention])
        if len(wants) != len(texts):
            raise ValueError(f"need_attention: {len(wants)} flags for {len(texts)} texts")
        cache = self.cache
        keys = [cache.key(cfg, self.normalize(t)) if cache is not None and not w else None
                for t, w in zip(texts, wants, strict=True)]
        cached = [cache.get(k) if k is not None and t.strip() else None
                  for k, t in zip(keys, texts, strict=True)]
        foreign = [cfg.pass_through and not is_in_language(t, self.source_language)
                   for t in texts]
        encoded = [self.encode(t) if t.strip() and c is None and not f else []
                   for t, c, f in zip(texts, cached, foreign, strict=True)]
        results: list[Translation] = [
            Translation(t, passed_through=True, alternatives=[(t, 0.0, 1.0)]) if f
            else c or Translation("") for t, c, f in zip(texts, cached, foreign, strict=True)]
        # by length, the texts that ask for attention after the rest: a batch is searched
        # with attention when one of its texts asks, and in CTranslate2 that costs more
        # (documents: only the sentences whose inline markup is placed ask)
        todo = sorted((i for i, ids in enumerate(encoded) if ids),
                      key=lambda i: (wants[i], len(encoded[i])))
        looped = self._search_all(todo, encoded, results, cfg, wants, cancel)
        if cfg.loop_retry_ngram > 0 and cfg.beam_size > 1 and looped:  # greedy stays greedy
            retry = dataclasses.replace(cfg, no_repeat_ngram_size=cfg.loop_retry_ngram)
            self._search_all(looped, encoded, results, retry, wants, cancel, first=False)
        if cfg.keep_numbers_beam > 0 and cfg.beam_size > 1:
            self._rescue_numbers(texts, encoded, results, cfg, wants, cancel)
        if cache is not None:
            for i in todo:
                if keys[i] is not None:
                    cache.put(keys[i], results[i])
        return results

    def enable_cache(self, max_entries: int) -> TranslationCache:
        """Keep the last ``max_entries`` translations (see inference/cache.py)."""
        sha = self.loaded.meta.get("weights_sha256") or self.loaded.meta.get("model_bin_sha256")
        self.cache = TranslationCache(max_entries, sha or str(self.loaded.path))
        return self.cache

    def _search_all(self, todo: list[int], encoded: list[list[int]],
                    results: list[Translation], cfg: DecodeConfig, wants: list[bool],
                    cancel: Cancel | None, first: bool = True) -> list[int]:
        """Search ``todo`` (indices, in batching order) and fill in their ``results``; return
        those whose best hypothesis the loop rule ended (decoding/constraints.py).

        ``first=False`` is the loop retry: a sentence whose new best hypothesis still ends
        in a loop keeps its first translation. The retry bans every repeated n-gram of
        ``decode.loop_retry_ngram`` tokens, so the loop cannot come back; on FLORES dev 6
        of 997 first translations had been cut short by a loop ("CafeNet El El El")."""
        caught = []
        for start in range(0, len(todo), cfg.batch_size):
            chunk = todo[start:start + cfg.batch_size]
            hyps = self._search([encoded[i] for i in chunk], cfg,
                                any(wants[i] for i in chunk), cancel)
            for i, sentence_hyps in zip(chunk, hyps, strict=True):
                loops = cfg.stop_loops and loop_end(sentence_hyps[0].tokens) is not None
                if loops:
                    caught.append(i)
                    log.debug("sentence %d: ended by the loop rule", i)
                if first or not loops:
                    results[i] = self._to_translation(encoded[i], sentence_hyps, wants[i])
        return caught

    def _rescue_numbers(self, texts: list[str], encoded: list[list[int]],
                        results: list[Translation], cfg: DecodeConfig,
                        wants: list[bool], cancel: Cancel | None) -> None:
        """In place: a translation that lost a number written in digits is replaced by the
        best hypothesis of a wider beam that keeps them all (see inference/numbers.py).

        The wide beam runs without attention: with it, it costs about twice as much in
        CTranslate2 (1,000 news sentences as Markdown: 11.2 s against 5.1-5.9 s). A rescued
        sentence that asks for attention (its inline markup is placed by it) gets the
        attention of its new translation from the engine's ``attend``, one decoder pass
        forced through it."""
        sources = [self.normalize(text) for text in texts]  # full-width digits -> ASCII
        lost = [i for i, text in enumerate(sources)
                if encoded[i] and not keeps_numbers(text, results[i].text)]
        rescued = list(self._wide_search(lost, sources, encoded, cfg, cancel))
        for i, hyps in rescued:
            results[i] = self._to_translation(encoded[i], hyps[:cfg.nbest], False)
        again = [(i, hyps) for i, hyps in rescued if wants[i]]
        for start in range(0, len(again), cfg.batch_size):
            chunk = again[start:start + cfg.batch_size]
            weights = self.engine.attend([encoded[i] for i, _ in chunk],
                                         [hyps[0].tokens for _, hyps in chunk])
            for (i, hyps), attention in zip(chunk, weights, strict=True):
                hyps[0].attention = attention
                results[i] = self._to_translation(encoded[i], hyps[:cfg.nbest], True)

    def _wide_search(self, indices: list[int], sources: list[str], encoded: list[list[int]],
                     cfg: DecodeConfig, cancel: Cancel | None):
        """Search ``indices`` again with the wide beam, batched by length as the first
        pass; yield (index, hypotheses) where one keeps every number, that one first."""
        beam = max(cfg.beam_size, cfg.keep_numbers_beam)
        # the wide beam's best few are the candidates, as many as the first pass's beam:
        # asking for all of them makes the search wait for its last finished hypothesis
        # (1,000 news sentences: the same 23 of 143 rescued, 29 s instead of 40)
        wide = dataclasses.replace(cfg, beam_size=beam, nbest=min(beam, max(cfg.beam_size,
                                                                            cfg.nbest)))
        order = sorted(indices, key=lambda i: len(encoded[i]))
        for start in range(0, len(order), cfg.batch_size):
            chunk = order[start:start + cfg.batch_size]
            hyps = self._search([encoded[i] for i in chunk], wide, False, cancel)
            for i, sentence_hyps in zip(chunk, hyps, strict=True):
                texts_out = [self.detokenize(h.tokens) for h in sentence_hyps]
                keep = first_keeping_numbers(sources[i], texts_out)
                if keep is None:
                    continue  # no hypothesis keeps them: the original translation stands
                log.debug("sentence %d: hypothesis %d of beam %d keeps its numbers", i, keep, beam)
                yield i, [sentence_hyps[keep]] + sentence_hyps[:keep] + sentence_hyps[keep + 1:]

    def _search(self, batch: list[list[int]], cfg: DecodeConfig, need_attention: bool,
                cancel: Cancel | None) -> list[list[Hypothesis]]:
        positions = self.loaded.config.model.max_positions
        if cfg.max_output_tokens > positions:  # the decoder has no position past its table
            cfg = dataclasses.replace(cfg, max_output_tokens=positions)
        return self.engine.search(batch, cfg, need_attention=need_attention, cancel=cancel)

    def _to_translation(self, src_ids: list[int], hyps: list[Hypothesis],
                        with_attention: bool) -> Translation:
        best = hyps[0]
        weights = best.attention if with_attention else None
        per_token = [mean_log_prob(h.log_prob, len(h.tokens)) for h in hyps]
        sure = [confidence(x, self.calibration) for x in per_token]
        return Translation(
            text=self.detokenize(best.tokens),
            score=float(best.score),
            confidence=sure[0],
            token_log_prob=per_token[0],
            alternatives=[(self.detokenize(h.tokens), float(h.score), c)
                          for h, c in zip(hyps, sure, strict=True)],
            src_tokens=self.src_vocab.pieces(src_ids),
            tgt_tokens=self.tgt_vocab.pieces(best.tokens) + ["</s>"],
            attention=None if weights is None else weights.permute(1, 2, 0, 3),
        )
