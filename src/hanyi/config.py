"""Typed configuration: one frozen-ish dataclass per concern, loaded from YAML.

Every default lives here and only here. A YAML file names the values it changes; the
command line can change more with ``--set section.key=value``. The resolved
``ExperimentConfig`` is saved inside every checkpoint, so a model directory always says
exactly how it was built.

Unknown keys and invalid values raise :class:`ConfigError` with the list of valid
options, instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from hanyi.errors import ConfigError


@dataclass
class SourceConfig:
    """One parallel corpus read by ``hanyi prepare``.

    ``format: tsv`` reads ``en<TAB>zh[<TAB>attribution]`` lines from ``path``;
    ``format: parallel`` reads line-aligned ``path + ".en"`` and ``path + ".zh"``.
    ``role`` says where the pairs go: ``train`` only, ``pool`` (train, but dev and test
    sentences may be drawn from it), or a fixed ``dev`` / ``test`` set.
    """

    name: str = ""
    path: str = ""
    format: Literal["tsv", "parallel"] = "tsv"
    role: Literal["train", "pool", "dev", "test"] = "train"
    attribution: bool = False  # the TSV has a third, attribution column
    max_pairs: int | None = None  # take only the first N records (for small configs)

    def __post_init__(self) -> None:
        if not self.name or not self.path:
            raise ConfigError("every data source needs a 'name' and a 'path'")


@dataclass
class DataConfig:
    root: str = "../shared/data"  # source paths are relative to this (env vars expanded)
    dir: str = "data/prepared"  # where `hanyi prepare` writes
    sources: list[SourceConfig] = field(default_factory=list)
    dev_size: int = 1500  # drawn from `pool` sources when no `dev` source is given
    test_size: int = 1500
    seed: int = 1234
    max_en_chars: int = 300
    max_zh_chars: int = 200
    min_ratio: float = 0.4  # len(en chars) / len(zh chars) bounds
    max_ratio: float = 15.0


@dataclass
class TokenizerConfig:
    model_type: Literal["unigram", "bpe", "word", "char"] = "unigram"
    src_model_type: Literal["unigram", "bpe", "word", "char"] | None = None
    tgt_model_type: Literal["unigram", "bpe", "word", "char"] | None = None
    src_vocab_size: int = 8000
    tgt_vocab_size: int = 8000
    src_character_coverage: float = 1.0
    tgt_character_coverage: float = 0.9995
    split_punctuation: bool = False  # English word models: split punctuation off words
    max_sentences: int = 2_000_000  # SentencePiece input_sentence_size

    @property
    def src_type(self) -> str:
        return self.src_model_type or self.model_type

    @property
    def tgt_type(self) -> str:
        return self.tgt_model_type or self.model_type


AttentionName = str  # validated against hanyi.model.attention.ATTENTION_KERNELS at build time


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
    lr: float = 7e-4  # peak learning rate
    warmup_steps: int = 4000
    schedule: Literal["inverse_sqrt", "constant"] = "inverse_sqrt"
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.98)
    adam_eps: float = 1e-9
    clip_norm: float = 1.0  # 0 = no clipping
    label_smoothing: float = 0.1
    bf16: bool = False  # autocast matmuls to bfloat16 (CPU with avx512_bf16, or CUDA)
    eval_every: int = 1000  # steps between dev evaluations
    save_every: int = 1000  # steps between checkpoints
    keep_checkpoints: int = 5  # step checkpoints kept on disk
    average_last: int = 0  # average the last N step checkpoints at the end (0 = off)
    dev_bleu_sentences: int = 500  # dev sentences decoded (greedy) for dev BLEU
    patience: int = 0  # evaluations without dev BLEU gain before stopping; 0 = off
    log_every: int = 50
    num_threads: int = 0  # torch intra-op threads; 0 = leave PyTorch's default

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ConfigError("train.max_tokens must be >= 16")
        if self.accumulate < 1:
            raise ConfigError("train.accumulate must be >= 1")
        if self.max_steps <= 0 and self.max_epochs <= 0 and self.max_minutes <= 0:
            raise ConfigError(
                "training needs a limit: set train.max_steps, train.max_epochs or train.max_minutes"
            )
        self.betas = tuple(self.betas)  # YAML gives a list


@dataclass
class DecodeConfig:
    beam_size: int = 4  # 1 = greedy search
    nbest: int = 1
    length_penalty: float = 1.0  # final score = log P / length ** length_penalty
    max_len_a: float = 2.0  # max output tokens = a * source tokens + b
    max_len_b: int = 10
    no_repeat_ngram_size: int = 0  # 0 = off; n > 0 bans repeating any n-gram
    batch_size: int = 64  # sentences per batch at inference
    max_input_tokens: int = 256  # longer inputs are cut (with a warning) to this many tokens
    keep_numbers_beam: int = 8  # re-decode with this beam when digits are lost (0 = off)

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ConfigError("decode.beam_size must be >= 1")
        if not 1 <= self.nbest <= self.beam_size:
            raise ConfigError(
                f"decode.nbest ({self.nbest}) must be between 1 and decode.beam_size "
                f"({self.beam_size})"
            )
        if self.keep_numbers_beam < 0:
            raise ConfigError("decode.keep_numbers_beam must be >= 0 (0 turns it off)")
        if self.max_len_a < 0 or self.max_len_b < 1:
            raise ConfigError("decode.max_len_a must be >= 0 and decode.max_len_b >= 1")


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
    max_batch: int = 32  # texts translated together (dynamic batching); 1 = off
    batch_wait_ms: float = 5.0  # how long the batcher waits for more requests to join
    warmup: bool = True  # translate one full batch at start-up (memory and latency settle)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"serve.port must be in 0..65535, got {self.port}")
        for name in ("workers", "max_chars", "max_texts", "max_beam", "queue_size",
                     "max_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"serve.{name} must be >= 1, got {getattr(self, name)}")
        if self.timeout_s <= 0 or self.batch_wait_ms < 0:
            raise ConfigError("serve.timeout_s must be > 0 and serve.batch_wait_ms >= 0")


@dataclass
class ExperimentConfig:
    name: str = "hanyi"
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=1000))
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)


# --- dict <-> dataclass ----------------------------------------------------


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against type ``tp`` (simple cases) and convert dict -> dataclass."""
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin is Literal:
        if value not in get_args(tp):
            options = ", ".join(repr(a) for a in get_args(tp))
            raise ConfigError(f"{where}: {value!r} is not valid; choose one of {options}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        (item,) = get_args(tp)
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return tuple(_coerce(v, a, where) for v, a in zip(value, get_args(tp)))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        # YAML 1.1 (PyYAML) reads 3e-4 as a string (it wants 3.0e-4); accept it as a number.
        try:
            return float(value)
        except ValueError:
            pass
    if tp in (int, float, str, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ConfigError(f"{where} must be {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type, values: dict, where: str = "") -> Any:
    """Build dataclass ``cls`` from a (YAML) mapping, rejecting unknown keys."""
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"unknown config key '{prefix}{unknown[0]}'; valid keys"
            f"{' in ' + where if where else ''}: {', '.join(sorted(hints))}"
        )
    kwargs = {}
    for key, value in values.items():
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}" if where else key)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - defensive
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None


def to_dict(cfg: Any) -> dict:
    """Plain-data view of a config (tuples become lists, so YAML stays readable)."""

    def plain(v: Any) -> Any:
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(cfg))


# --- YAML and overrides ----------------------------------------------------


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"model.d_model=512"`` -> (["model", "d_model"], 512). Values are parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set expects key.sub=value, got {text!r}")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ConfigError(f"--set expects key.sub=value, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Apply ``--set`` overrides to a raw config mapping (validated later by from_dict)."""
    values = dict(values)
    for text in overrides:
        path, value = parse_override(text)
        node = values
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"--set {text}: '{part}' is not a section")
            node[part] = dict(child)
            node = node[part]
        node[path[-1]] = value
    return values


def _parse_yaml(text: str, where: str) -> dict:
    """YAML text -> mapping; errors name ``where`` (a path or "") and the line."""
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = "" if mark is None else f"{':' if where else 'line '}{mark.line + 1}"
        at = f"{where}{line}: " if where or line else ""
        raise ConfigError(f"{at}not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{where + ': ' if where else ''}the top level must be a mapping "
                          "of sections")
    return values


def read_yaml(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc.reason})") from None
    return _parse_yaml(text, str(path))


def load_config(path: str | os.PathLike | None, overrides: list[str] = ()) -> ExperimentConfig:
    """Read a YAML experiment config, apply ``--set`` overrides, validate everything."""
    values = read_yaml(path) if path is not None else {}
    values = apply_overrides(values, list(overrides))
    return from_dict(ExperimentConfig, values)


def config_from_yaml_text(text: str) -> ExperimentConfig:
    """The config saved inside a checkpoint (errors have no file name to give)."""
    return from_dict(ExperimentConfig, _parse_yaml(text, ""))


def config_to_yaml(cfg: ExperimentConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)


def replace(cfg: Any, **changes: Any) -> Any:
    """dataclasses.replace that re-runs validation."""
    return dataclasses.replace(cfg, **changes)
