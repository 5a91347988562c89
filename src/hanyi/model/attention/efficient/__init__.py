"""Efficient attention kernels: full softmax attention costs O(T²) time and memory per
head; these kernels from later papers cost about O(T) (Tay et al. 2020, *Efficient
Transformers: A Survey*). None of them is in Vaswani et al.; the paper's model uses
`reference` / `sdpa` (``..``). Each file's header states the idea, the paper, the cost and
how the kernel differs from `reference`; ``tests/test_attention_kernels.py`` checks each one
against `reference` (equal where its pattern covers the sentence, otherwise within its
documented behaviour). ``docs/attention.md`` has measurements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hanyi.errors import ConfigError
from hanyi.model.attention.efficient.base import EfficientKernel
from hanyi.model.attention.efficient.bigbird import BigBirdAttention
from hanyi.model.attention.efficient.linear import LinearAttention
from hanyi.model.attention.efficient.linformer import LinformerAttention
from hanyi.model.attention.efficient.local import LocalAttention
from hanyi.model.attention.efficient.performer import PerformerAttention

if TYPE_CHECKING:
    from hanyi.config import ModelConfig

EFFICIENT_KERNELS: dict[str, type[EfficientKernel]] = {
    "local": LocalAttention,
    "bigbird": BigBirdAttention,
    "linformer": LinformerAttention,
    "performer": PerformerAttention,
    "linear": LinearAttention,
}

SITE_NAMES = {"encoder": "encoder self-attention", "decoder": "decoder (causal) self-attention",
              "cross": "encoder-decoder (cross) attention"}


def build_efficient_kernel(name: str, cfg: ModelConfig, site: str,
                           also_valid: list[str]) -> EfficientKernel:
    """The efficient kernel ``name`` for ``site``, validated.

    Raises ConfigError for a kernel that cannot serve this site (for example `linformer`
    outside the encoder), listing the kernels that can (``also_valid``: those that serve
    every site)."""
    kernel = EFFICIENT_KERNELS[name]
    if not kernel.supports_site(site):
        able = [n for n, k in EFFICIENT_KERNELS.items() if k.supports_site(site)]
        valid = ", ".join(sorted(able + also_valid))
        raise ConfigError(f"model.{site}_attention: {name!r} cannot be used for "
                          f"{SITE_NAMES[site]}; choose one of {valid} (or set "
                          f"model.{site}_attention separately from model.attention)")
    return kernel.from_config(cfg, site)


__all__ = ["EFFICIENT_KERNELS", "EfficientKernel", "build_efficient_kernel"]
