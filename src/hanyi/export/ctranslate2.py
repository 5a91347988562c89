"""CTranslate2 export: copy a hanyi Transformer into a hand-filled ``TransformerSpec``.

CTranslate2 (Klein et al. 2020, OpenNMT) is a C++ inference engine for the same
encoder-decoder Transformer we train (Vaswani et al. 2017, Figure 1). It has converters for
other toolkits' checkpoints, but none for ours, so we fill its model *spec* directly with its
Python API — what its own converters do. Our layout was chosen for this: self-attention
keeps Q, K and V in one fused (3·D x D) Linear and cross-attention K and V in one (2·D x D)
Linear, exactly CTranslate2's ``linear[0]`` / ``linear[1]``, so every tensor maps 1:1.

An export directory holds::

    model.bin config.json source_vocabulary.json target_vocabulary.json   (CTranslate2)
    src.model tgt.model    our SentencePiece models (the same pre/post-processing)
    config.yaml            the model's resolved ExperimentConfig (decode settings included)
    hanyi_export.json      format, quantization, what `auto` measured, the source checkpoint

What cannot be copied exactly is refused with a :class:`ModelLoadError`: attention kernels
other than exact softmax attention (CTranslate2 has only full attention), and vocabularies
whose special pieces are missing.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import torch

import hanyi
from hanyi.checkpoint import LoadedModel, _replace_dir
from hanyi.config import config_to_yaml
from hanyi.errors import ConfigError, ModelLoadError
from hanyi.model.embeddings import sinusoidal_table

log = logging.getLogger(__name__)

EXPORT_META = "hanyi_export.json"
FORMAT = "ctranslate2"
# What `--quantization` accepts; "auto" measures the candidates (see export/quantize_auto.py).
QUANTIZATIONS = ("auto", "float32", "int8", "int8_float32", "int16", "bfloat16")
EXACT_KERNELS = ("reference", "sdpa")  # kernels that compute softmax(QK^T/sqrt(d))V exactly


def is_export_dir(path: str | Path) -> bool:
    """True if ``path`` is a directory written by :func:`export_ctranslate2`."""
    return (Path(path) / EXPORT_META).is_file()


def _import_ctranslate2():
    try:
        import ctranslate2  # noqa: F401  (optional dependency: pip install hanyi[export])
        from ctranslate2.specs import common_spec, transformer_spec
    except ImportError:
        raise ModelLoadError("CTranslate2 is not installed: pip install 'hanyi[export]'") from None
    return common_spec, transformer_spec


def check_exportable(loaded: LoadedModel) -> None:
    """Raise ModelLoadError for what CTranslate2 cannot compute exactly."""
    cfg = loaded.config.model
    for site in ("encoder", "decoder", "cross"):
        kernel = cfg.kernel_for(site)
        if kernel not in EXACT_KERNELS:
            raise ModelLoadError(
                f"cannot export: the {site} attention kernel {kernel!r} has no CTranslate2 "
                f"equivalent (CTranslate2 computes full softmax attention; exportable kernels: "
                f"{', '.join(EXACT_KERNELS)})")
    for side, vocab in (("source", loaded.src_vocab), ("target", loaded.tgt_vocab)):
        pieces = vocab.tokens()
        if len(set(pieces)) != len(pieces):
            raise ModelLoadError(f"cannot export: the {side} vocabulary has duplicate pieces")


def _linear(spec, linear: torch.nn.Linear) -> None:
    spec.weight = linear.weight.detach().float().contiguous()  # (out, in), as nn.Linear
    if linear.bias is not None:
        spec.bias = linear.bias.detach().float().contiguous()


def _norm(spec, norm: torch.nn.LayerNorm) -> None:
    spec.gamma = norm.weight.detach().float().contiguous()
    spec.beta = norm.bias.detach().float().contiguous()


def _fill_encoder_layer(spec, layer) -> None:
    _norm(spec.self_attention.layer_norm, layer.attn_block.norm)
    _linear(spec.self_attention.linear[0], layer.self_attn.qkv_proj)  # fused Q, K, V
    _linear(spec.self_attention.linear[1], layer.self_attn.out_proj)
    _norm(spec.ffn.layer_norm, layer.ffn_block.norm)
    _linear(spec.ffn.linear_0, layer.ffn.linear1)
    _linear(spec.ffn.linear_1, layer.ffn.linear2)


def _fill_decoder_layer(spec, layer) -> None:
    _norm(spec.self_attention.layer_norm, layer.self_block.norm)
    _linear(spec.self_attention.linear[0], layer.self_attn.qkv_proj)
    _linear(spec.self_attention.linear[1], layer.self_attn.out_proj)
    _norm(spec.attention.layer_norm, layer.cross_block.norm)
    _linear(spec.attention.linear[0], layer.cross_attn.q_proj)
    _linear(spec.attention.linear[1], layer.cross_attn.kv_proj)  # fused K, V
    _linear(spec.attention.linear[2], layer.cross_attn.out_proj)
    _norm(spec.ffn.layer_norm, layer.ffn_block.norm)
    _linear(spec.ffn.linear_0, layer.ffn.linear1)
    _linear(spec.ffn.linear_1, layer.ffn.linear2)


def build_spec(loaded: LoadedModel):
    """A validated CTranslate2 ``TransformerSpec`` holding the model's float32 weights."""
    common_spec, transformer_spec = _import_ctranslate2()
    check_exportable(loaded)
    model, cfg = loaded.model, loaded.config.model
    pre = cfg.norm_position == "pre"
    # pre_norm=False is the paper's post-LN (§3.1): LayerNorm after each residual add and no
    # final LayerNorm, exactly our norm_position="post".
    spec = transformer_spec.TransformerSpec.from_config(
        (cfg.encoder_layers, cfg.decoder_layers), cfg.n_heads, pre_norm=pre,
        activation=common_spec.Activation.RELU)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    spec.config.layer_norm_epsilon = norms[0].eps  # CTranslate2's own default differs
    enc, dec = spec.encoder, spec.decoder
    enc.embeddings[0].weight = model.src_embed.weight.detach().float()  # scaled by sqrt(D) in CT2
    dec.embeddings.weight = model.tgt_embed.weight.detach().float()
    # Our output projection has no bias; tied or not, it is its own (V, D) matrix here
    # (CTranslate2 stores a shared tensor once when the two are identical).
    dec.projection.weight = model.output_proj.weight.detach().float()
    table = sinusoidal_table(cfg.max_positions, cfg.d_model)  # our interleaved sin/cos (§3.5)
    enc.position_encodings.encodings = table
    dec.position_encodings.encodings = table
    if pre:
        _norm(enc.layer_norm, model.encoder_norm)
        _norm(dec.layer_norm, model.decoder_norm)
    for layer_spec, layer in zip(enc.layer, model.encoder_layers):
        _fill_encoder_layer(layer_spec, layer)
    for layer_spec, layer in zip(dec.layer, model.decoder_layers):
        _fill_decoder_layer(layer_spec, layer)
    _register_vocabularies(spec, loaded)
    spec.validate()
    return spec


def _register_vocabularies(spec, loaded: LoadedModel) -> None:
    """CTranslate2 looks tokens up by string; it needs the unk/bos/eos pieces named."""
    src, tgt = loaded.src_vocab, loaded.tgt_vocab
    spec.register_source_vocabulary(src.tokens())
    spec.register_target_vocabulary(tgt.tokens())
    pieces = tgt.tokens()
    spec.config.unk_token = pieces[tgt.unk_id]
    spec.config.bos_token = pieces[tgt.bos_id]
    spec.config.eos_token = pieces[tgt.eos_id]
    spec.config.decoder_start_token = pieces[tgt.bos_id]  # our decoder starts from <s>
    if src.tokens()[src.unk_id] != spec.config.unk_token:
        raise ModelLoadError(f"cannot export: source and target unknown pieces differ "
                             f"({src.tokens()[src.unk_id]!r} vs {spec.config.unk_token!r})")


def save_spec(loaded: LoadedModel, quantization: str, out: Path) -> Path:
    """Write the CTranslate2 files for one weight type into ``out`` (created)."""
    spec = build_spec(loaded)
    spec.optimize(quantization=quantization)
    out.mkdir(parents=True, exist_ok=True)
    spec.save(str(out))
    return out


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
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    try:
        measured = None
        if quantization == "auto":
            from hanyi.export.quantize_auto import choose_quantization

            quantization, measured = choose_quantization(loaded, sample, threads)
        save_spec(loaded, quantization, tmp)
        meta = _write_sidecar_files(loaded, tmp, quantization, measured)
        _replace_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
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
        "hanyi_version": hanyi.__version__,
        "ctranslate2_version": __import__("ctranslate2").__version__,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (folder / EXPORT_META).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    return meta
