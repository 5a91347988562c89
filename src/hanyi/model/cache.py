"""The decoder's key/value cache: an explicit value passed to and returned by decode_step.

Autoregressive decoding produces one token at a time. Without a cache every step would
re-run the decoder over the whole prefix (quadratic work). With it, each step computes
keys and values for the *new* token only and appends them; cross-attention keys and values
depend only on the source, so they are computed on the first step and reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

KV = tuple[torch.Tensor, torch.Tensor]  # (keys, values), each (B, H, T, Dh)


@dataclass
class DecoderCache:
    self_attn: list[KV | None] = field(default_factory=list)  # one entry per decoder layer
    cross_attn: list[KV | None] = field(default_factory=list)
    length: int = 0  # target positions already processed

    @classmethod
    def empty(cls, n_layers: int) -> DecoderCache:
        return cls([None] * n_layers, [None] * n_layers, 0)

    def select(self, index: torch.Tensor) -> DecoderCache:
        """Keep / reorder / repeat batch rows (beam search reorders after every step)."""

        def pick(kv: KV | None) -> KV | None:
            return None if kv is None else (kv[0].index_select(0, index),
                                             kv[1].index_select(0, index))

        return DecoderCache([pick(kv) for kv in self.self_attn],
                            [pick(kv) for kv in self.cross_attn], self.length)
