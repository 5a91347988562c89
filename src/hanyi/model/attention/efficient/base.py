"""What an efficient kernel declares beyond the plain kernel interface (``../base.py``).

The paper's kernels compute full softmax attention, so they serve every attention site and
can always hand back their weights. Efficient kernels trade that generality for speed, and
say so with capability flags that ``build_efficient_kernel`` checks when the model is
built (a clear ConfigError instead of a late crash or a silently wrong mask):

* ``supports_causal``: has a causal form (decoder self-attention);
* ``supports_cross``: works when queries and keys come from different sequences;
* ``returns_weights``: can return the (B, H, Tq, Tk) weights (for the heat-map).

Each kernel also builds itself from the model config (``from_config``): its window, rank,
number of features, etc. Every efficient kernel is approximate or sparse: it differs from
`reference` in general, and its module docstring says how and by how much.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hanyi.model.attention.base import AttentionKernel
from hanyi.model.masks import AttentionMask

if TYPE_CHECKING:  # only for type hints; the model config is passed in at build time
    from hanyi.config import ModelConfig


class EfficientKernel(AttentionKernel):
    """Base class of the efficient kernels: capability flags and construction from config."""

    returns_weights: bool = False
    supports_causal: bool = True
    supports_cross: bool = True

    @classmethod
    def supports_site(cls, site: str) -> bool:
        """Can this kernel serve ``site``: "encoder" (self), "decoder" (causal self), "cross"?"""
        if site == "decoder":
            return cls.supports_causal
        if site == "cross":
            return cls.supports_cross
        return True

    @classmethod
    def from_config(cls, cfg: ModelConfig, site: str) -> EfficientKernel:
        """Build the kernel for one attention site ("encoder", "decoder" or "cross")."""
        return cls(dropout=cfg.attention_dropout)

    def check(self, mask: AttentionMask, need_weights: bool) -> None:
        """Refuse what this kernel cannot do (never silently ignore a causal mask)."""
        if mask.causal and not self.supports_causal:
            raise ValueError(f"{type(self).__name__} cannot apply a causal mask")
        if need_weights and not self.returns_weights:
            raise ValueError(f"{type(self).__name__} cannot return attention weights")
