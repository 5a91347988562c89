"""The CTranslate2 model spec: copy a hanyi Transformer into a hand-filled ``TransformerSpec``.

CTranslate2 has converters for other toolkits' checkpoints, but none for ours, so we fill
its model *spec* directly with its Python API — what its own converters do. Our layout was
chosen for this: self-attention keeps Q, K and V in one fused (3·D x D) Linear and
cross-attention K and V in one (2·D x D) Linear, exactly CTranslate2's ``linear[0]`` /
``linear[1]``, so every tensor maps 1:1.

What cannot be copied exactly is refused with a :class:`ModelLoadError`: attention kernels
other than exact softmax attention (CTranslate2 has only full attention), and vocabularies
whose special pieces are missing. Used by :mod:`hanyi.export.ctranslate2` (the export) and
:mod:`hanyi.export.quantize_auto` (which measures weight types on a temporary spec).
"""

from __future__ import annotations

from pathlib import Path

import torch

from hanyi.checkpoint import LoadedModel
from hanyi.errors import ModelLoadError
from hanyi.model.embeddings import sinusoidal_table

EXACT_KERNELS = ("reference", "sdpa")  # kernels that compute softmax(QK^T/sqrt(d))V exactly


def _import_ctranslate2():
    try:
        import ctranslate2  # noqa: F401  (optional dependency: pip install hanyi[export])
        from ctranslate2.specs import common_spec, transformer_spec
    except ImportError:
        raise ModelLoadError("CTranslate2 is not installed: pip install 'hanyi[export]'") from None
    return common_spec, transformer_spec


def ctranslate2_version() -> str:
    import ctranslate2

    return ctranslate2.__version__


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
    # alignment_heads=0: the attention CTranslate2 returns on request (return_attention) is
    # the mean over all heads of the last decoder layer's cross-attention, what
    # documents/align.py places inline markup with (its default is head 0 alone).
    spec = transformer_spec.TransformerSpec.from_config(
        (cfg.encoder_layers, cfg.decoder_layers), cfg.n_heads, pre_norm=pre,
        activation=common_spec.Activation.RELU, alignment_layer=-1, alignment_heads=0)
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
    for layer_spec, layer in zip(enc.layer, model.encoder_layers, strict=True):
        _fill_encoder_layer(layer_spec, layer)
    for layer_spec, layer in zip(dec.layer, model.decoder_layers, strict=True):
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
