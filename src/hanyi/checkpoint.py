"""Model directories: save atomically, load safely, average.

A checkpoint is a directory::

    model.safetensors   the weights (safetensors: loading never runs pickled code)
    config.yaml         the resolved ExperimentConfig it was trained with
    src.model tgt.model the SentencePiece models (English, Chinese)
    meta.json           step, scores, hashes of the tokenizers, hanyi version, git SHA
    training_state.pt   optimizer, scheduler, RNG and data position (training only;
                        loaded with ``torch.load(weights_only=True)``)

Writes are atomic: everything goes to ``NAME.tmp-…`` first, which is then renamed into
place, so a kill at any moment leaves either the old or the new checkpoint, never half.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_model

import hanyi
from hanyi.config import ExperimentConfig, config_from_yaml_text, config_to_yaml
from hanyi.errors import ConfigError, ModelLoadError
from hanyi.model import Transformer, build_model
from hanyi.tokenization import Vocab
from hanyi.tokenization.languages import load_vocabs

REQUIRED = ("model.safetensors", "config.yaml", "src.model", "tgt.model")


@dataclass
class LoadedModel:
    model: Transformer
    config: ExperimentConfig
    src_vocab: Vocab
    tgt_vocab: Vocab
    meta: dict
    path: Path


def git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished ``tmp`` directory to ``final``, replacing any older one.

    POSIX has no atomic swap of two directories: for an instant only ``final.old``
    exists. A crash right then leaves it behind, and ``recover_dir`` puts it back.
    """
    old = final.with_name(final.name + ".old")
    if final.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
        if old.exists():  # left by a crash between the two renames; final is newer
            shutil.rmtree(old)


def recover_dir(path: Path) -> Path:
    """``path``, restored from ``path.old`` if a crash in ``_replace_dir`` left only that."""
    old = path.with_name(path.name + ".old")
    if not path.exists() and old.is_dir():
        os.replace(old, path)
    return path


def save_checkpoint(path: Path, model: Transformer, cfg: ExperimentConfig, src_vocab: Vocab,
                    tgt_vocab: Vocab, meta: dict, training_state: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=path.name + ".tmp-", dir=path.parent))
    try:
        save_model(model, str(tmp / "model.safetensors"))
        (tmp / "config.yaml").write_text(config_to_yaml(cfg), encoding="utf-8")
        (tmp / "src.model").write_bytes(src_vocab.model_proto)
        (tmp / "tgt.model").write_bytes(tgt_vocab.model_proto)
        meta = {**meta, "hanyi_version": hanyi.__version__, "git_sha": git_sha(),
                "src_spm_sha256": src_vocab.sha256, "tgt_spm_sha256": tgt_vocab.sha256,
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if training_state is not None:
            torch.save(training_state, tmp / "training_state.pt")
        _replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def check_model_dir(path: Path) -> None:
    if not path.exists():
        raise ModelLoadError(f"model directory not found: {path}")
    if not path.is_dir():
        raise ModelLoadError(f"{path} is not a model directory")
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        raise ModelLoadError(f"{path} is not a complete hanyi model: missing "
                             f"{', '.join(missing)}")


def load_config_file(path: Path) -> ExperimentConfig:
    try:
        return config_from_yaml_text((path / "config.yaml").read_text(encoding="utf-8"))
    except (ConfigError, ValueError) as exc:
        raise ModelLoadError(f"{path / 'config.yaml'}: {exc}") from None


def load_model_dir(path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Load a model directory for inference (eval mode) on ``device``."""
    path = recover_dir(Path(path))
    check_model_dir(path)
    cfg = load_config_file(path)
    src_vocab, tgt_vocab = load_vocabs(path, cfg.direction, cfg.tokenizer.split_punctuation)
    model = build_model(cfg.model, src_vocab, tgt_vocab)
    load_weights(model, path / "model.safetensors")
    meta = load_meta(path / "meta.json")
    return LoadedModel(model.to(device).eval(), cfg, src_vocab, tgt_vocab, meta, path)


def load_meta(file: Path) -> dict:
    """meta.json is optional (informational), but a corrupt one is reported, not ignored."""
    if not file.is_file():
        return {}
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ModelLoadError(f"{file}: corrupt metadata ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelLoadError(f"{file}: corrupt metadata (not a JSON object)")
    return meta


def load_weights(model: Transformer, file: Path) -> None:
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"{file}: corrupt or unreadable weights ({exc})") from None
    if model.cfg.tie_target_embeddings:  # save_model stores a shared tensor once
        state.setdefault("output_proj.weight", state.get("tgt_embed.weight"))
        state.setdefault("tgt_embed.weight", state.get("output_proj.weight"))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ModelLoadError(f"{file}: weights do not fit the config "
                             f"({first[1].strip() if len(first) > 1 else first[0]})") from None


def load_training_state(path: Path) -> dict:
    file = Path(path) / "training_state.pt"
    if not file.is_file():
        raise ModelLoadError(f"{file} not found: cannot resume from {path}")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt archives
        raise ModelLoadError(f"{file}: corrupt training state ({exc})") from None


def average_weights(paths: list[Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of the weights of several checkpoints (Vaswani et al. §6.1 average
    the last 5 or 20 checkpoints)."""
    total: dict[str, torch.Tensor] = {}
    for path in paths:
        for name, tensor in load_file(str(Path(path) / "model.safetensors")).items():
            total[name] = total.get(name, 0) + tensor.double()
    return {name: (t / len(paths)).float() for name, t in total.items()}
