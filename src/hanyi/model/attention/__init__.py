"""Attention: projections (`MultiHeadAttention`) and swappable kernels chosen by name.

``ATTENTION_KERNELS`` is an explicit dict, name -> kernel class. To add a kernel, write
one file with a header (idea, paper, cost, exact or approximate), add it here, and the
contract tests in ``tests/test_attention_kernels.py`` check it against `reference`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hanyi.errors import ConfigError
from hanyi.model.attention.base import AttentionKernel
from hanyi.model.attention.bigbird import BigBirdAttention
from hanyi.model.attention.linear import LinearAttention
from hanyi.model.attention.linformer import LinformerAttention
from hanyi.model.attention.local import LocalAttention
from hanyi.model.attention.multihead import MultiHeadAttention
from hanyi.model.attention.performer import PerformerAttention
from hanyi.model.attention.reference import ReferenceAttention
from hanyi.model.attention.sdpa import SDPAAttention

if TYPE_CHECKING:
    from hanyi.config import ModelConfig

ATTENTION_KERNELS: dict[str, type[AttentionKernel]] = {
    "reference": ReferenceAttention,
    "sdpa": SDPAAttention,
    "local": LocalAttention,
    "bigbird": BigBirdAttention,
    "linformer": LinformerAttention,
    "performer": PerformerAttention,
    "linear": LinearAttention,
}


def get_kernel(name: str) -> type[AttentionKernel]:
    try:
        return ATTENTION_KERNELS[name]
    except KeyError:
        valid = ", ".join(sorted(ATTENTION_KERNELS))
        raise ConfigError(f"unknown attention kernel {name!r}; choose one of {valid}") from None


SITE_NAMES = {"encoder": "encoder self-attention", "decoder": "decoder (causal) self-attention",
              "cross": "encoder-decoder (cross) attention"}


def build_kernel(cfg: ModelConfig, site: str) -> AttentionKernel:
    """The kernel configured for ``site`` ("encoder", "decoder" or "cross"), validated.

    Raises ConfigError for an unknown name or a kernel that cannot serve this site (for
    example `linformer` outside the encoder), listing the kernels that can.
    """
    name = cfg.kernel_for(site)
    kernel = get_kernel(name)
    if not kernel.supports_site(site):
        valid = ", ".join(n for n, k in sorted(ATTENTION_KERNELS.items()) if k.supports_site(site))
        raise ConfigError(f"model.{site}_attention: {name!r} cannot be used for "
                          f"{SITE_NAMES[site]}; choose one of {valid} (or set "
                          f"model.{site}_attention separately from model.attention)")
    return kernel.from_config(cfg, site)


__all__ = ["ATTENTION_KERNELS", "AttentionKernel", "MultiHeadAttention", "build_kernel",
           "get_kernel"]
