"""Model directories: save atomically, load safely, average.

A checkpoint is a directory::

    model.safetensors   the weights (safetensors: loading never runs pickled code)
    config.yaml         the resolved ExperimentConfig it was trained with
    src.model tgt.model the SentencePiece models (English, Chinese)
    meta.json           step, scores, hashes of the tokenizers, hanyi version, git SHA
    training_state.pt   optimizer, scheduler, RNG and data position (training only;
                        loaded with ``torch.load(weights_only=True)``)

A ``hanyi export`` directory (CTranslate2) is recognised here too, by its
``hanyi_export.json``: this module is the one place that knows what a model directory of
either kind holds, so inference and export both ask it. A model directory may carry its
own export in ``ctranslate2/`` (the shipped model does: ``hanyi export DIR --out
DIR/ctranslate2``); :func:`bundled_export` finds it, and refuses one that was exported from
other weights than the directory's.

Writes are atomic (``hanyi.files.atomic_dir``): everything goes to ``NAME.tmp-…`` first,
which is then renamed into place, so a kill at any moment leaves either the old or the new
checkpoint, never half.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_model

from hanyi.config import ExperimentConfig, config_from_yaml_text, config_to_yaml
from hanyi.errors import ConfigError, ModelLoadError
from hanyi.files import atomic_dir, recover_dir
from hanyi.model import Transformer, build_model
from hanyi.tokenization import Vocab
from hanyi.tokenization.languages import load_vocabs
from hanyi.version import __version__

REQUIRED = ("model.safetensors", "config.yaml", "src.model", "tgt.model")
EXPORT_META = "hanyi_export.json"  # marks a `hanyi export` (CTranslate2) directory
BUNDLED_EXPORT = "ctranslate2"  # a model directory's own export, if it has one


@dataclass
class LoadedModel:
    model: Transformer | None  # None for a CTranslate2 export (the engine holds the weights)
    config: ExperimentConfig
    src_vocab: Vocab
    tgt_vocab: Vocab
    meta: dict = field(default_factory=dict)
    path: Path | None = None  # None for a model that lives only in memory (training)


def git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def save_checkpoint(path: Path, model: Transformer, cfg: ExperimentConfig, src_vocab: Vocab,
                    tgt_vocab: Vocab, meta: dict, training_state: dict | None = None,
                    weights_dtype: torch.dtype = torch.float32) -> Path:
    """Write a model directory atomically (see :func:`write_model_files`)."""
    path = Path(path)
    with atomic_dir(path) as tmp:
        write_model_files(tmp, model, cfg, src_vocab, tgt_vocab, meta, training_state,
                          weights_dtype)
    return path


def write_model_files(folder: Path, model: Transformer, cfg: ExperimentConfig,
                      src_vocab: Vocab, tgt_vocab: Vocab, meta: dict,
                      training_state: dict | None = None,
                      weights_dtype: torch.dtype = torch.float32) -> None:
    """The files of a model directory, into the (temporary) ``folder``. ``weights_dtype``
    float16 halves a model that is shipped (loading copies the weights into the model's
    float32 parameters, so inference still computes in float32); training keeps float32."""
    if weights_dtype != torch.float32:
        model = copy.deepcopy(model).to(weights_dtype)
    save_model(model, str(folder / "model.safetensors"))
    meta = {**meta, "weights_sha256": file_sha256(folder / "model.safetensors"),
            "weights_dtype": str(weights_dtype).removeprefix("torch.")}
    (folder / "config.yaml").write_text(config_to_yaml(cfg), encoding="utf-8")
    (folder / "src.model").write_bytes(src_vocab.model_proto)
    (folder / "tgt.model").write_bytes(tgt_vocab.model_proto)
    meta = {**meta, "hanyi_version": __version__, "git_sha": git_sha(),
            "src_spm_sha256": src_vocab.sha256, "tgt_spm_sha256": tgt_vocab.sha256,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    if training_state is not None:
        torch.save(training_state, folder / "training_state.pt")


def is_export_dir(path: str | Path) -> bool:
    """True if ``path`` is a directory written by ``hanyi export``."""
    return (Path(path) / EXPORT_META).is_file()


def bundled_export(path: str | Path) -> Path | None:
    """``path/ctranslate2`` if the model directory ``path`` holds an export of *its own*
    weights (the export records the SHA-256 of the weights it was made from); None if it
    holds none. A stale one (the weights changed since) is an error, not silently used."""
    path = Path(path)
    export = path / BUNDLED_EXPORT
    if not is_export_dir(export):
        return None
    made_from = load_meta(export / EXPORT_META).get("source_meta", {}).get("weights_sha256")
    weights = load_meta(path / "meta.json").get("weights_sha256")
    if made_from is None or made_from != weights:
        raise ModelLoadError(f"{export} was exported from other weights than "
                             f"{path / 'model.safetensors'}: export it again (hanyi export "
                             f"{path} --out {export}) or delete it")
    return export


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
    meta = load_folder_weights(model, path)
    return LoadedModel(model.to(device).eval(), cfg, src_vocab, tgt_vocab, meta, path)


def load_export_dir(path: str | Path) -> LoadedModel:
    """The config, vocabularies and export metadata of a ``hanyi export`` directory
    (``model=None``: the CTranslate2 engine loads the weights itself)."""
    path = Path(path)
    if not (path / "config.yaml").is_file():
        raise ModelLoadError(f"{path} is not a complete hanyi export: missing config.yaml")
    cfg = load_config_file(path)
    src_vocab, tgt_vocab = load_vocabs(path, cfg.direction, cfg.tokenizer.split_punctuation)
    return LoadedModel(None, cfg, src_vocab, tgt_vocab, load_meta(path / EXPORT_META), path)


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


def file_sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(file: Path, expected: str | None) -> None:
    """Flipped bits in a weights file load without complaint and translate into garbage:
    compare with the checksum recorded when it was written (directories written before
    hanyi 0.2.0 have none, and are not checked)."""
    if expected is None:
        return
    if not file.is_file():
        raise ModelLoadError(f"{file} not found")
    actual = file_sha256(file)
    if actual != expected:
        raise ModelLoadError(f"{file} is damaged: its SHA-256 is {actual[:12]}…, the model "
                             f"directory recorded {expected[:12]}… when it was saved; copy "
                             f"the model again")


def load_folder_weights(model: Transformer, folder: Path) -> dict:
    """Load ``folder/model.safetensors`` into ``model`` after checking it against the
    checksum in ``folder/meta.json``; returns that metadata."""
    meta = load_meta(folder / "meta.json")
    load_state(model, read_folder_weights(folder, meta), folder / "model.safetensors")
    return meta


def read_folder_weights(folder: Path, meta: dict | None = None) -> dict[str, torch.Tensor]:
    """The tensors of ``folder/model.safetensors``, checked against the checksum in
    ``meta`` (default: ``folder/meta.json``), as saved (a tied tensor under one name)."""
    file = folder / "model.safetensors"
    meta = load_meta(folder / "meta.json") if meta is None else meta
    verify_checksum(file, meta.get("weights_sha256"))
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"{file}: corrupt or unreadable weights ({exc})") from None


def load_state(model: Transformer, state: dict[str, torch.Tensor], source: Path | str) -> None:
    """Load saved (or averaged) weights into ``model``, strictly. ``save_model`` stores a
    tensor shared by tied weights once, under either name: put it back under both."""
    if model.cfg.tie_target_embeddings:
        state = dict(state)
        state.setdefault("output_proj.weight", state.get("tgt_embed.weight"))
        state.setdefault("tgt_embed.weight", state.get("output_proj.weight"))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ModelLoadError(f"{source}: weights do not fit the config "
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
