"""A training batch: padded id tensors with the teacher-forcing shift (no masks here —
the model builds them from the pad id, in ``model/masks.py``)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Batch:
    src: torch.Tensor  # (B, S) source ids, padded
    tgt_in: torch.Tensor  # (B, T) <s> y1 .. yn      — decoder input
    tgt_out: torch.Tensor  # (B, T) y1 .. yn </s>    — what it must predict
    n_tokens: int  # real (non-pad) target tokens, the loss's normaliser

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.src.to(device, non_blocking=True),
                     self.tgt_in.to(device, non_blocking=True),
                     self.tgt_out.to(device, non_blocking=True), self.n_tokens)


def pad_sequences(seqs: list[list[int]], pad_id: int) -> torch.Tensor:
    """List of id lists -> (N, max_len) LongTensor padded on the right with ``pad_id``."""
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))  # (N,)
    flat = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int64,
                       count=int(lengths.sum()))  # every id, row after row
    out = np.full((len(seqs), int(lengths.max())), pad_id, dtype=np.int64)  # (N, max_len)
    out[np.arange(out.shape[1]) < lengths[:, None]] = flat  # a mask fills row-major: in order
    return torch.from_numpy(out)


def collate(src: list[list[int]], tgt: list[list[int]], src_pad_id: int, tgt_pad_id: int,
            bos_id: int, eos_id: int) -> Batch:
    """Build a Batch from source and target id lists (without <s>/</s>)."""
    tgt_in = pad_sequences([[bos_id] + t for t in tgt], tgt_pad_id)
    tgt_out = pad_sequences([t + [eos_id] for t in tgt], tgt_pad_id)
    return Batch(pad_sequences(src, src_pad_id), tgt_in, tgt_out, sum(len(t) + 1 for t in tgt))
