"""The attention-kernel interface.

Multi-head attention (§3.2.2) is two separable things: *projections* (learned linear maps
that make queries, keys and values and merge the heads back; ``multihead.py``) and a
*kernel*: the arithmetic that turns q, k and v into weighted sums (``reference.py`` writes
Eq. 1 out; ``sdpa.py`` hands the same equation to PyTorch's fused function). Kernels are
chosen by name in the config, so the model never changes when the kernel does.

A kernel receives per-head tensors, batch first:
    q: (B, H, Tq, Dh)   k: (B, H, Tk, Dh)   v: (B, H, Tk, Dh)
and an :class:`~hanyi.model.masks.AttentionMask`, and returns
    out: (B, H, Tq, Dh)   weights: (B, H, Tq, Tk) when asked for (``need_weights``), else None.
"""

from __future__ import annotations

import torch
from torch import nn

from hanyi.model.masks import AttentionMask


class AttentionKernel(nn.Module):
    """Base class: subclasses implement :meth:`forward`."""

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.dropout = dropout  # attention dropout: on the weights, during training only

    @property
    def dropout_p(self) -> float:
        return self.dropout if self.training else 0.0

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: AttentionMask,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError
