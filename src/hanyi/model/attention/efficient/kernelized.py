"""Kernelized attention: the shared engine of `linear` and `performer`.

Softmax attention weights key j for query i by exp(q_i·k_j). Replace that similarity by a
dot product of *feature maps*, sim(q, k) = φ(q)·φ(k), and the matrix product can be
re-associated (Katharopoulos et al. 2020, *Transformers are RNNs*, §3.2, Eq. 4–6):

    out_i = φ(q_i) · Σ_j φ(k_j) v_jᵀ  /  φ(q_i) · Σ_j φ(k_j)

The sums over j are a (M × Dh) matrix and an M vector, computed once: time O(T · M · Dh),
memory O(T · M) — no (T × T) matrix. The feature map decides the method: elu(x) + 1 for
`linear`, positive random features for `performer`.

Causal form (§3.4): query i may only use the sums over j ≤ i — prefix sums. A running
sum per position would store a (M × Dh) state per token; we instead go chunk by chunk
(chunks of C tokens): inside a chunk a small (C × C) lower-triangular product, across
chunks an exclusive prefix sum of per-chunk states — O(T · (C + Dh) · M) time, O(T · C +
T/C · M · Dh) memory. With a KV cache (Tq new queries after ``offset`` cached keys) the
cached keys simply form the starting state. (The recurrent form of §3.4 would keep only
the M × Dh state between decoder steps; hanyi's cache keeps keys and values, so a step
recomputes that state from them in O(t · M · Dh).)

Padded keys get φ(k) = 0, so they contribute nothing to either sum.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hanyi.model.masks import AttentionMask

CHUNK = 64  # causal chunk length C


def _normalise(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den with den > 0 guarded (an all-underflow row gives 0, not NaN)."""
    return num / den.clamp_min(torch.finfo(den.dtype).tiny).unsqueeze(-1)


def kernelized_attention(phi_q: torch.Tensor, phi_k: torch.Tensor, v: torch.Tensor,
                         mask: AttentionMask, chunk: int = CHUNK) -> torch.Tensor:
    """phi_q (B, H, Tq, M), phi_k (B, H, Tk, M), v (B, H, Tk, Dh) -> (B, H, Tq, Dh)."""
    if mask.key_padding is not None:
        phi_k = phi_k * mask.key_padding[:, None, :, None].to(phi_k.dtype)  # (B, H, Tk, M)
    if mask.causal:
        return _causal(phi_q, phi_k, v, mask.offset, chunk)
    kv = phi_k.transpose(-2, -1) @ v  # Σ_j φ(k_j) v_jᵀ: (B, H, M, Dh)
    z = phi_k.sum(dim=-2)  # Σ_j φ(k_j): (B, H, M)
    return _normalise(phi_q @ kv, (phi_q * z[:, :, None, :]).sum(-1))  # (B, H, Tq, Dh)


def _causal(phi_q, phi_k, v, offset: int, chunk: int) -> torch.Tensor:
    b, h, t_q, _ = phi_q.shape  # (B, H, Tq, M)
    if phi_k.size(2) != offset + t_q:
        raise ValueError("causal attention expects Tk = offset + Tq (cached keys + new ones)")
    state = phi_k[:, :, :offset].transpose(-2, -1) @ v[:, :, :offset]  # (B, H, M, Dh) cached
    z0 = phi_k[:, :, :offset].sum(dim=-2)  # (B, H, M)
    c = min(chunk, t_q)
    n = -(-t_q // c)
    pad = n * c - t_q  # zero features in the tail: they add nothing

    def chunks(x):
        return F.pad(x, (0, 0, 0, pad)).view(b, h, n, c, x.size(-1))  # (B, H, n, C, ·)

    q_c, k_c, v_c = chunks(phi_q), chunks(phi_k[:, :, offset:]), chunks(v[:, :, offset:])
    chunk_kv = k_c.transpose(-2, -1) @ v_c  # (B, H, n, M, Dh): each chunk's own sum
    chunk_z = k_c.sum(dim=-2)  # (B, H, n, M)
    # Exclusive prefix sums: chunk i sees the chunks before it (plus the cached state).
    past_kv = state[:, :, None] + F.pad(chunk_kv.cumsum(2), (0, 0, 0, 0, 1, 0))[:, :, :n]
    past_z = z0[:, :, None] + F.pad(chunk_z.cumsum(2), (0, 0, 1, 0))[:, :, :n]  # (B,H,n,M)
    inside = (q_c @ k_c.transpose(-2, -1)).tril()  # (B, H, n, C, C): j <= i within a chunk
    num = inside @ v_c + q_c @ past_kv  # (B, H, n, C, Dh)
    den = inside.sum(-1) + (q_c * past_z[:, :, :, None, :]).sum(-1)  # (B, H, n, C)
    out = _normalise(num, den)  # (B, H, n, C, Dh)
    return out.reshape(b, h, n * c, -1)[:, :, :t_q]  # (B, H, Tq, Dh)


def implied_weights(phi_q: torch.Tensor, phi_k: torch.Tensor,
                    mask: AttentionMask) -> torch.Tensor:
    """The (B, H, Tq, Tk) weights this attention uses, built densely — only when a caller
    asks for them (the attention heat-map); the forward pass never builds this matrix."""
    sim = phi_q @ phi_k.transpose(-2, -1)  # (B, H, Tq, Tk)
    dense = mask.dense(phi_q.size(2), phi_k.size(2), phi_q.device)
    if dense is not None:
        sim = sim * dense.to(sim.dtype)
    return sim / sim.sum(-1, keepdim=True).clamp_min(torch.finfo(sim.dtype).tiny)
