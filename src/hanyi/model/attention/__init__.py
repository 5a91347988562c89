"""Attention (§3.2): multi-head projections (`MultiHeadAttention`) around a kernel chosen by
name.

The paper's kernels, in front: `reference` (Eq. 1 written out) and `sdpa` (the same
equation, fused by PyTorch). ``efficient/`` holds kernels from later papers that avoid the
(Tq × Tk) score matrix; they register here under their names too, and
``tests/test_attention_kernels.py`` checks each one against `reference`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hanyi.errors import ConfigError
from hanyi.model.attention.base import AttentionKernel
from hanyi.model.attention.efficient import EFFICIENT_KERNELS, build_efficient_kernel
from hanyi.model.attention.multihead import Attended, MultiHeadAttention
from hanyi.model.attention.reference import ReferenceAttention
from hanyi.model.attention.sdpa import SDPAAttention

if TYPE_CHECKING:
    from hanyi.config import ModelConfig

PAPER_KERNELS: dict[str, type[AttentionKernel]] = {
    "reference": ReferenceAttention,
    "sdpa": SDPAAttention,
}
ATTENTION_KERNELS: dict[str, type[AttentionKernel]] = {**PAPER_KERNELS, **EFFICIENT_KERNELS}


def get_kernel(name: str) -> type[AttentionKernel]:
    try:
        return ATTENTION_KERNELS[name]
    except KeyError:
        valid = ", ".join(sorted(ATTENTION_KERNELS))
        raise ConfigError(f"unknown attention kernel {name!r}; choose one of {valid}") from None


def build_kernel(cfg: ModelConfig, site: str) -> AttentionKernel:
    """The kernel configured for ``site``: "encoder" (self-attention), "decoder" (causal
    self-attention) or "cross" (encoder-decoder attention). The paper's kernels serve every
    site; an efficient kernel is checked against the site it is asked to serve."""
    name = cfg.kernel_for(site)
    kernel = get_kernel(name)  # ConfigError for an unknown name
    if name in PAPER_KERNELS:
        return kernel(dropout=cfg.attention_dropout)
    return build_efficient_kernel(name, cfg, site, also_valid=sorted(PAPER_KERNELS))


__all__ = ["ATTENTION_KERNELS", "PAPER_KERNELS", "Attended", "AttentionKernel",
           "MultiHeadAttention", "build_kernel", "get_kernel"]
