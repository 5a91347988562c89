"""`linear`: linear (kernelised) attention with the elu(x) + 1 feature map.

Idea (Katharopoulos et al. 2020, *Transformers are RNNs: Fast Autoregressive
Transformers with Linear Attention*, §3.2; Tay et al. 2020 §3.2 "Kernels"): replace
exp(q·k) by φ(q)·φ(k) with the simple positive map

    φ(x) = elu(x) + 1                                              (Eq. 7)

and re-associate (φ(Q) φ(K)ᵀ) V = φ(Q) (φ(K)ᵀ V): time O(T · Dh²), memory O(T · Dh) per
head, causal (a prefix sum — the paper's "RNN" view, §3.4) or not. See kernelized.py for
the shared engine.

Not an approximation of softmax attention but a different similarity, learned with it
it never equals `reference`. Attention dropout is not applied
(deviation: there is no weight matrix to drop from). Computed in float32 even under bf16
autocast (the prefix sums run over the whole sequence).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hanyi.model.attention.efficient.base import EfficientKernel
from hanyi.model.attention.efficient.kernelized import implied_weights, kernelized_attention
from hanyi.model.masks import AttentionMask


class LinearAttention(EfficientKernel):
    returns_weights = True  # the implied weights, built only when asked

    def forward(self, q, k, v, mask: AttentionMask, need_weights: bool = False):
        with torch.autocast(q.device.type, enabled=False):  # long prefix sums: float32
            wide = torch.promote_types(q.dtype, torch.float32)  # bf16 -> fp32; fp64 stays
            q32, k32, v32 = q.to(wide), k.to(wide), v.to(wide)
            phi_q, phi_k = F.elu(q32) + 1, F.elu(k32) + 1  # (B, H, T, Dh), positive
            out = kernelized_attention(phi_q, phi_k, v32, mask)  # (B, H, Tq, Dh)
            weights = implied_weights(phi_q, phi_k, mask).to(q.dtype) if need_weights else None
        return out.to(q.dtype), weights
