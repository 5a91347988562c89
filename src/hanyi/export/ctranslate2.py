"""CTranslate2 export: write a hanyi model as a directory CTranslate2 loads.

CTranslate2 (Klein et al. 2020, OpenNMT) is a C++ inference engine for the same
encoder-decoder Transformer we train (Vaswani et al. 2017, Figure 1). The weights are copied
into its model spec in :mod:`hanyi.export.spec`; this module writes the directory.

An export directory holds::

    model.bin config.json source_vocabulary.json target_vocabulary.json   (CTranslate2)
    src.model tgt.model    our SentencePiece models (the same pre/post-processing)
    config.yaml            the model's resolved ExperimentConfig (decode settings included)
    hanyi_export.json      format, quantization, what `auto` measured, the source checkpoint
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from hanyi.checkpoint import EXPORT_META, LoadedModel, file_sha256
from hanyi.config import config_to_yaml
from hanyi.errors import ConfigError
from hanyi.export.quantize_auto import choose_quantization
from hanyi.export.spec import ctranslate2_version, save_spec
from hanyi.files import atomic_dir
from hanyi.version import __version__

log = logging.getLogger(__name__)

FORMAT = "ctranslate2"
# What `--quantization` accepts; "auto" measures the candidates (see export/quantize_auto.py).
QUANTIZATIONS = ("auto", "float32", "int8", "int8_float32", "int16", "bfloat16")


def export_ctranslate2(loaded: LoadedModel, out: str | Path, quantization: str = "auto",
                       sample: list[str] | None = None, threads: int = 0) -> dict:
    """Export ``loaded`` to the directory ``out`` (replaced atomically). Returns the metadata.

    ``quantization="auto"`` times each weight type CTranslate2 supports on this CPU on
    ``sample`` sentences and keeps the fastest one whose output matches float32 (see
    :mod:`hanyi.export.quantize_auto`); the measurements go into the metadata.
    """
    if quantization not in QUANTIZATIONS:
        raise ConfigError(f"unknown quantization {quantization!r}; choose from "
                          f"{', '.join(QUANTIZATIONS)}")
    out = Path(out)
    with atomic_dir(out) as tmp:
        measured = None
        if quantization == "auto":
            quantization, measured = choose_quantization(loaded, sample, threads)
        save_spec(loaded, quantization, tmp)
        meta = _write_sidecar_files(loaded, tmp, quantization, measured)
    log.info("exported %s to %s (%s)", loaded.path, out, quantization)
    return meta


def _write_sidecar_files(loaded: LoadedModel, folder: Path, quantization: str,
                         measured: dict | None) -> dict:
    (folder / "src.model").write_bytes(loaded.src_vocab.model_proto)
    (folder / "tgt.model").write_bytes(loaded.tgt_vocab.model_proto)
    (folder / "config.yaml").write_text(config_to_yaml(loaded.config), encoding="utf-8")
    meta = {
        "format": FORMAT,
        "quantization": quantization,
        "auto": measured,  # None unless --quantization auto
        "source_model": str(loaded.path),
        "source_meta": loaded.meta,
        "src_spm_sha256": loaded.src_vocab.sha256,
        "tgt_spm_sha256": loaded.tgt_vocab.sha256,
        "model_bin_sha256": file_sha256(folder / "model.bin"),  # checked when loaded
        "hanyi_version": __version__,
        "ctranslate2_version": ctranslate2_version(),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (folder / EXPORT_META).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    return meta
