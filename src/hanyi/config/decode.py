"""The decode settings: how a trained model searches for its translations.

One dataclass, ``DecodeConfig`` (the ``decode:`` section of a config, ``--set decode.KEY=V``,
the decode flags of `hanyi translate` and the fields of an API request all land here), and
its validation: every number is checked once, whoever sets it. Its own file because it is
the one section read at translation time; the rest of the configuration is in
``config/sections.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hanyi.errors import ConfigError

MAX_BEAM = 64  # wider beams cost memory without helping translation (Koehn & Knowles 2017)


@dataclass
class DecodeConfig:
    beam_size: int = 4  # 1 = greedy search
    nbest: int = 1
    # final score = log P / length ** length_penalty (the paper, §6.1: GNMT's penalty,
    # alpha 0.6; see decoding/constraints.py length_normalize)
    length_penalty: float = 1.0
    # max output tokens = a * source tokens + b (the paper, §6.1: source length + 50)
    max_len_a: float = 2.0
    max_len_b: int = 10
    no_repeat_ngram_size: int = 0  # 0 = off; n > 0 bans repeating any n-gram
    batch_size: int = 64  # sentences per batch at inference
    max_input_tokens: int = 256  # longer inputs are cut (with a warning) to this many tokens
    # an absolute cap on output tokens per sentence, whatever a * S + b says: with the loop
    # rule in decoding/constraints.py it bounds the work one sentence can cost
    max_output_tokens: int = 400
    stop_loops: bool = True  # end a hypothesis caught repeating itself (decoding/constraints)
    # text whose letters are mostly not in the source language's script (Chinese given to
    # an English->Chinese model) is passed through unchanged, flagged (tokenization/script)
    pass_through: bool = True
    # the number rescue: after beam search (never greedy), re-decode with this beam when
    # digits are lost (0 = off); see inference/numbers.py
    keep_numbers_beam: int = 8
    # the loop retry: after beam search (never greedy), a translation that the loop rule
    # ended is searched again with no n-gram of this size repeated (0 = off); see
    # inference/translator.py
    loop_retry_ngram: int = 4
    # greedy search draws tokens at random (beam_size 1; decoding/sampling.py): topk 1 =
    # off, 0 = from all tokens, k = from the k most probable; P ** (1 / temperature); the
    # seed makes a run repeatable (both engines; back-translation, Edunov et al. 2018)
    sampling_topk: int = 1
    sampling_temperature: float = 1.0
    sampling_seed: int = 0
    # the lexicon fallback (en->zh, inference/lexicon.py): a lower-case English word seen at
    # most this many times in the model's training data becomes CC-CEDICT's Chinese for it
    # (a glossary term) when one dictionary entry glosses it; -1 = off, 0 = unseen words only
    lexicon_fallback: int = 2
    # ... and a capitalised name seen at most this many times (-1 = no names; both are off
    # when lexicon_fallback is -1)
    lexicon_names: int = 100

    def __post_init__(self) -> None:
        """Every decode number is checked here, once, whoever sets it (YAML, --set, a flag,
        an API request): a clear error instead of empty output or a stalled machine."""
        if not 1 <= self.beam_size <= MAX_BEAM:
            raise ConfigError(f"decode.beam_size must be between 1 and {MAX_BEAM}, "
                              f"got {self.beam_size}")
        for name in ("batch_size", "max_input_tokens", "max_output_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"decode.{name} must be >= 1, got {getattr(self, name)}")
        if self.sampling_topk < 0:
            raise ConfigError("decode.sampling_topk must be >= 0 (1 = off, 0 = every token)")
        if self.samples and self.beam_size != 1:
            raise ConfigError(f"decode.sampling_topk {self.sampling_topk} samples instead of "
                              f"greedy search: it needs decode.beam_size 1, got "
                              f"{self.beam_size}")
        if not (math.isfinite(self.sampling_temperature) and self.sampling_temperature > 0):
            raise ConfigError(f"decode.sampling_temperature must be a number > 0, "
                              f"got {self.sampling_temperature}")
        if self.no_repeat_ngram_size < 0:
            raise ConfigError("decode.no_repeat_ngram_size must be >= 0 (0 turns it off)")
        if not (math.isfinite(self.length_penalty) and 0 <= self.length_penalty <= 10):
            raise ConfigError(f"decode.length_penalty must be a number in 0..10, "
                              f"got {self.length_penalty}")
        if not math.isfinite(self.max_len_a):
            raise ConfigError(f"decode.max_len_a must be a finite number, got {self.max_len_a}")
        if not 1 <= self.nbest <= self.beam_size:
            raise ConfigError(
                f"decode.nbest ({self.nbest}) must be between 1 and decode.beam_size "
                f"({self.beam_size})"
            )
        if self.keep_numbers_beam < 0:
            raise ConfigError("decode.keep_numbers_beam must be >= 0 (0 turns it off)")
        if self.loop_retry_ngram < 0:
            raise ConfigError("decode.loop_retry_ngram must be >= 0 (0 turns it off)")
        for name in ("lexicon_fallback", "lexicon_names"):
            if getattr(self, name) < -1:
                raise ConfigError(f"decode.{name} must be >= -1 (-1 turns it off)")
        if self.max_len_a < 0 or self.max_len_b < 1:
            raise ConfigError("decode.max_len_a must be >= 0 and decode.max_len_b >= 1")

    @property
    def samples(self) -> bool:
        """True when greedy search draws tokens at random (decoding/sampling.py)."""
        return self.sampling_topk != 1
