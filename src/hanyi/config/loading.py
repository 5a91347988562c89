"""Loading configs: YAML -> validated dataclasses, ``--set`` overrides, and back to YAML.

Unknown keys and invalid values raise :class:`ConfigError` with the list of valid
options, instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from hanyi.config.sections import DecodeConfig, ExperimentConfig
from hanyi.errors import ConfigError

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
        if len(value) != len(get_args(tp)):
            raise ConfigError(f"{where} must have {len(get_args(tp))} items, got {value!r}")
        return tuple(_coerce(v, a, where) for v, a in zip(value, get_args(tp), strict=True))
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


def decode_with_overrides(base: DecodeConfig, overrides: list[str]) -> DecodeConfig:
    """The one way decode settings change at inference time: ``decode.KEY=VALUE`` overrides
    (``--set decode.*``; the CLI's --beam, --nbest, ... flags are spelled this way too) over
    a model's own decode section, validated. A beam narrowed below ``nbest`` without
    ``nbest`` being set lowers ``nbest`` with it (``--beam 1`` on a 4-best model is greedy)."""
    for text in overrides:
        if not text.startswith("decode."):
            raise ConfigError(f"--set {text}: only decode.* settings can change at "
                              f"inference time")
    values = apply_overrides({"decode": to_dict(base)}, overrides)["decode"]
    nbest_set = any(parse_override(text)[0] == ["decode", "nbest"] for text in overrides)
    beam, nbest = values.get("beam_size"), values.get("nbest")
    if not nbest_set and isinstance(beam, int) and isinstance(nbest, int) and nbest > beam:
        values["nbest"] = beam
    return from_dict(DecodeConfig, values, "decode")


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


# Keys that were renamed, so an old config gets told what to write instead.
RENAMED = {("tokenizer", "model_type"): "tokenizer.model_type became two keys in hanyi "
                                         "0.2.0: src_model_type and tgt_model_type"}


def load_config(path: str | os.PathLike | None, overrides: list[str] = ()) -> ExperimentConfig:
    """Read a YAML experiment config, apply ``--set`` overrides, validate everything."""
    values = read_yaml(path) if path is not None else {}
    values = apply_overrides(values, list(overrides))
    for (section, key), message in RENAMED.items():
        if isinstance(values.get(section), dict) and key in values[section]:
            raise ConfigError(f"{path or 'config'}: {message}")
    return from_dict(ExperimentConfig, values)


def config_from_yaml_text(text: str) -> ExperimentConfig:
    """The config saved inside a checkpoint (errors have no file name to give)."""
    return from_dict(ExperimentConfig, upgrade_saved_config(_parse_yaml(text, "")))


def upgrade_saved_config(values: dict) -> dict:
    """A model directory saved by hanyi < 0.2.0 names one ``tokenizer.model_type`` for both
    languages (with optional per-side overrides); read it as the two per-side keys, so every
    model ever saved still loads. New configs must use the two keys (see RENAMED)."""
    tokenizer = values.get("tokenizer")
    if not isinstance(tokenizer, dict) or "model_type" not in tokenizer:
        return values
    tokenizer = dict(tokenizer)
    legacy = tokenizer.pop("model_type")
    for side in ("src_model_type", "tgt_model_type"):
        if tokenizer.get(side) is None:
            tokenizer[side] = legacy
    return {**values, "tokenizer": tokenizer}


def config_to_yaml(cfg: ExperimentConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)


def replace(cfg: Any, **changes: Any) -> Any:
    """dataclasses.replace that re-runs validation."""
    return dataclasses.replace(cfg, **changes)
