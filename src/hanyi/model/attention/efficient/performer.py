"""`performer`: FAVOR+ — softmax attention approximated with positive random features.

Idea (Choromanski et al. 2021, *Rethinking Attention with Performers*, §2.3–2.4; Tay et
al. 2020 §3.2 "Kernels"): the softmax kernel has an unbiased positive random-feature
estimate. With ω_1..ω_M ~ N(0, I_d),

    exp(x·y) = E_ω[ φ(x)·φ(y) ],   φ(x) = exp(ω_r·x − |x|²/2)_{r=1..M} / √M      (Lemma 1)

and x = q / d^¼, y = k / d^¼ gives exp(q·k / √d), the unnormalised softmax weight. The
kernelized engine (kernelized.py) then computes attention in O(T · M · Dh) time and
O(T · M) memory, causal or not. *Approximate*: the error is a Monte-Carlo error that
shrinks like 1/√M (``model.attention_features``); positive features keep every weight
≥ 0, so rows stay well-defined (the "+" of FAVOR+). The ω are *orthogonal* (blocks of a
random orthogonal matrix, rows rescaled to Gaussian lengths, §2.4), which lowers the
variance further.

Numerics: each query's features are divided by exp(its largest exponent) — a per-row
constant that cancels in the normalisation. Keys are divided by exp(c) with c the
largest possible exponent, max_r |ω_r|²/2 (ω·x − |x|²/2 ≤ |ω|²/2), a constant that also
cancels and, unlike a maximum over the keys, depends on no (future) token.
Deviations, flagged: the features are drawn once when the model is built and saved with
it (a buffer), not redrawn during training as the paper suggests; attention dropout is
not applied (there is no weight matrix to drop from); under bf16 autocast the features
and sums are still computed in float32 (exp amplifies rounding errors).
"""

from __future__ import annotations

import math

import torch

from hanyi.model.attention.efficient.base import EfficientKernel
from hanyi.model.attention.efficient.kernelized import implied_weights, kernelized_attention
from hanyi.model.masks import AttentionMask


def orthogonal_features(n_features: int, d_head: int,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """(M, Dh) random features: orthogonal within each block of Dh rows, Gaussian lengths."""
    blocks = []
    for _ in range(-(-n_features // d_head)):
        gaussian = torch.randn(d_head, d_head, generator=generator)
        q, r = torch.linalg.qr(gaussian)  # (Dh, Dh) orthogonal
        q = q * torch.sign(torch.diagonal(r))  # sign fix: makes q uniformly (Haar) random
        blocks.append(q.T)
    directions = torch.cat(blocks)[:n_features]  # (M, Dh) unit rows
    lengths = torch.randn(n_features, d_head, generator=generator).norm(dim=1)  # chi(Dh)
    return directions * lengths[:, None]  # (M, Dh)


class PerformerAttention(EfficientKernel):
    returns_weights = True  # the implied weights, built only when asked

    def __init__(self, n_features: int, d_head: int, dropout: float = 0.0):
        super().__init__(dropout)
        self.register_buffer("features", orthogonal_features(n_features, d_head))  # (M, Dh)

    @classmethod
    def from_config(cls, cfg, site: str) -> PerformerAttention:
        return cls(cfg.attention_features, cfg.d_model // cfg.n_heads, cfg.attention_dropout)

    def feature_map(self, x: torch.Tensor, is_query: bool) -> torch.Tensor:
        """(B, H, T, Dh) -> φ(x): (B, H, T, M), positive."""
        omega = self.features.to(x.dtype)  # (M, Dh)
        x = x / x.size(-1) ** 0.25  # so that φ(q)·φ(k) estimates exp(q·k / √d)
        exponent = x @ omega.T - (x * x).sum(-1, keepdim=True) / 2  # (B, H, T, M)
        if is_query:
            shift = exponent.amax(dim=-1, keepdim=True).detach()  # per row: cancels
        else:
            shift = (omega * omega).sum(-1).max() / 2  # upper bound, data-independent
        return torch.exp(exponent - shift) / math.sqrt(omega.size(0))

    def forward(self, q, k, v, mask: AttentionMask, need_weights: bool = False):
        with torch.autocast(q.device.type, enabled=False):  # exp and sums: float32
            wide = torch.promote_types(q.dtype, torch.float32)  # bf16 -> fp32; fp64 stays
            q32, k32, v32 = q.to(wide), k.to(wide), v.to(wide)
            phi_q, phi_k = self.feature_map(q32, True), self.feature_map(k32, False)
            out = kernelized_attention(phi_q, phi_k, v32, mask)  # (B, H, Tq, Dh)
            weights = implied_weights(phi_q, phi_k, mask).to(q.dtype) if need_weights else None
        return out.to(q.dtype), weights
