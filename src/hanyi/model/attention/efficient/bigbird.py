"""`bigbird`: block-sparse attention — window + global + random blocks.

Idea (Zaheer et al. 2020, *Big Bird: Transformers for Longer Sequences*, §2; Tay et al.
2020 §3.2 "Combinations of patterns"): cut the sequence into blocks of b tokens and let
each query block attend to a few key blocks only:
    * window: the blocks within ``attention_window`` tokens on either side (locality),
    * global: the first g blocks, which also attend to *everything* (BigBird-ITC, §2),
    * random: r blocks drawn at random per query block (the graph-theory argument of §2:
      random edges keep every pair of tokens a few hops apart).
With all three, the paper proves sparse attention stays a universal approximator.

Cost per head: time O(T · (2w/b + 1 + g + r) · b · Dh) plus O(g · b · T · Dh) for the
global rows, memory O(T · (2w + (g + r) · b)): linear in T. Exact softmax over the chosen
blocks, so equal to `reference` when the blocks cover the whole sentence; otherwise a
different, sparser model.

Deviations, flagged: (1) the random blocks are drawn from all blocks and repeats of
window/global blocks are dropped (BigBird samples from the rest), so a row may end up
with fewer than r random blocks; (2) encoder self-attention only — BigBird's seq2seq
models (Pegasus-style) keep full attention in the decoder, and we refuse causal and
cross-attention rather than guess a pattern. Randomness is deterministic per model: the
pattern for n blocks comes from a generator seeded with ``seed`` (a buffer drawn when
the model is built and saved with it) and n, so a loaded model attends exactly as saved.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hanyi.model.attention.efficient.base import EfficientKernel
from hanyi.model.masks import AttentionMask


class BigBirdAttention(EfficientKernel):
    supports_causal = False
    supports_cross = False

    def __init__(self, block: int, window: int, global_blocks: int, random_blocks: int,
                 dropout: float = 0.0):
        super().__init__(dropout)
        self.block = block
        self.window_blocks = -(-window // block)  # neighbouring blocks on each side
        self.global_blocks, self.random_blocks = global_blocks, random_blocks
        # Saved with the model: the random pattern is a function of (seed, number of blocks).
        self.register_buffer("seed", torch.randint(0, 2**31 - 1, (1,)))
        self._patterns: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def from_config(cls, cfg, site: str) -> BigBirdAttention:
        return cls(cfg.attention_block, cfg.attention_window, cfg.attention_global_blocks,
                   cfg.attention_random_blocks, cfg.attention_dropout)

    def pattern(self, n_blocks: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Key blocks per query block: indices (nb, n_sel) and validity (nb, n_sel).

        Invalid entries are out-of-range window blocks and repeats within a row (a key
        attended twice would count twice in the softmax). Cached per (seed, n_blocks)."""
        key = (int(self.seed), n_blocks)
        if key not in self._patterns:
            self._patterns[key] = self._draw_pattern(n_blocks)
        return self._patterns[key]

    def _draw_pattern(self, n_blocks: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.arange(n_blocks)[:, None]  # (nb, 1)
        window = rows + torch.arange(-self.window_blocks, self.window_blocks + 1)  # (nb, 2w+1)
        glob = torch.arange(self.global_blocks).expand(n_blocks, -1)  # (nb, g)
        gen = torch.Generator().manual_seed(int(self.seed) * 100_003 + n_blocks)
        rand = torch.randint(0, n_blocks, (n_blocks, self.random_blocks), generator=gen)
        idx = torch.cat([window, glob, rand], dim=1)  # (nb, n_sel)
        valid = (idx >= 0) & (idx < n_blocks)
        idx = idx.clamp(0, n_blocks - 1)
        n_sel = idx.size(1)
        same = (idx[:, :, None] == idx[:, None, :]) & valid[:, None, :]  # (nb, n_sel, n_sel)
        earlier = torch.ones(n_sel, n_sel, dtype=torch.bool).tril(-1)  # j < i
        valid &= ~(same & earlier).any(dim=-1)  # keep the first copy only
        return idx, valid

    def forward(self, q, k, v, mask: AttentionMask, need_weights: bool = False):
        self.check(mask, need_weights)
        b, h, t, d_head = q.shape  # (B, H, T, Dh); self-attention: Tq = Tk = T
        bs = self.block
        n_blocks = -(-t // bs)
        pad = n_blocks * bs - t
        real = torch.ones(b, t, dtype=torch.bool, device=q.device)
        if mask.key_padding is not None:
            real = mask.key_padding
        real = F.pad(real, (0, pad), value=False).view(b, n_blocks, bs)  # (B, nb, bs)
        idx, valid = (x.to(q.device) for x in self.pattern(n_blocks))  # (nb, n_sel)
        q_b, k_b, v_b = (F.pad(x, (0, 0, 0, pad)).view(b, h, n_blocks, bs, d_head)
                         for x in (q, k, v))  # (B, H, nb, bs, Dh)
        k_sel = k_b[:, :, idx].flatten(3, 4)  # (B, H, nb, n_sel·bs, Dh)
        v_sel = v_b[:, :, idx].flatten(3, 4)
        allowed = (real[:, idx] & valid[None, :, :, None]).flatten(2, 3)  # (B, nb, n_sel·bs)
        scores = q_b @ k_sel.transpose(-2, -1) / math.sqrt(d_head)  # (B, H, nb, bs, n_sel·bs)
        scores = scores.masked_fill(~allowed[:, None, :, None, :], torch.finfo(scores.dtype).min)
        weights = F.dropout(scores.softmax(dim=-1), p=self.dropout_p)
        out = (weights @ v_sel).view(b, h, n_blocks * bs, d_head)  # (B, H, nb·bs, Dh)
        n_global = min(self.global_blocks, n_blocks) * bs
        if n_global:  # global query blocks attend to every key: (g·bs × T) scores, linear in T
            scores = q[:, :, :n_global] @ k.transpose(-2, -1) / math.sqrt(d_head)  # (B,H,gb,T)
            if mask.key_padding is not None:
                scores = scores.masked_fill(~mask.key_padding[:, None, None, :],
                                            torch.finfo(scores.dtype).min)
            weights = F.dropout(scores.softmax(dim=-1), p=self.dropout_p)
            out = torch.cat([weights @ v, out[:, :, n_global:]], dim=2)  # (B, H, nb·bs, Dh)
        return out[:, :, :t], None  # (B, H, T, Dh)
