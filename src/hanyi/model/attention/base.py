"""The attention-kernel interface.

Multi-head attention (§3.2.2) is two separable things: *projections* (learned linear maps
that make queries, keys and values and merge the heads back) and a *kernel* (how the
attention weights are computed from q, k and v). ``MultiHeadAttention`` owns the
projections; a kernel owns the arithmetic. Kernels are chosen by name from
``ATTENTION_KERNELS`` so that a learner can swap, say, the explicit softmax of the paper
for PyTorch's fused SDPA, or for an efficient approximation, without touching the model.

A kernel receives per-head tensors, batch first:
    q: (B, H, Tq, Dh)   k: (B, H, Tk, Dh)   v: (B, H, Tk, Dh)
and an :class:`~hanyi.model.masks.AttentionMask`, and returns
    out: (B, H, Tq, Dh)   weights: (B, H, Tq, Tk) or None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from hanyi.model.masks import AttentionMask

if TYPE_CHECKING:  # only for type hints; the model config is passed in at build time
    from hanyi.config import ModelConfig


class AttentionKernel(nn.Module):
    """Base class. Subclasses implement :meth:`forward` and set the capability flags."""

    #: can return the (B, H, Tq, Tk) attention weights (for visualisation)
    returns_weights: bool = False
    #: supports causal (decoder self-attention) masks
    supports_causal: bool = True
    #: may be used for cross-attention (queries and keys from different sequences)
    supports_cross: bool = True
    #: exact (equal to `reference` up to float rounding) or an approximation
    exact: bool = True

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.dropout = dropout

    @classmethod
    def supports_site(cls, site: str) -> bool:
        """Can this kernel serve ``site``: "encoder" (self), "decoder" (causal self), "cross"?"""
        if site == "decoder":
            return cls.supports_causal
        if site == "cross":
            return cls.supports_cross
        return True

    @classmethod
    def from_config(cls, cfg: ModelConfig, site: str) -> AttentionKernel:
        """Build the kernel for one attention site ("encoder", "decoder" or "cross")."""
        return cls(dropout=cfg.attention_dropout)

    @property
    def dropout_p(self) -> float:
        return self.dropout if self.training else 0.0

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: AttentionMask,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def check_mask(self, mask: AttentionMask) -> None:
        """Refuse a causal mask in a kernel that cannot honour it (never silently ignore it)."""
        if mask.causal and not self.supports_causal:
            raise ValueError(f"{type(self).__name__} cannot apply a causal mask")
