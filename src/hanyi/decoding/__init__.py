"""Search strategies. They use only ``model.encode``, ``model.decode_step`` and
``model.tgt_ids``, so any model with that interface (a hand-built toy included) works."""

from __future__ import annotations

import torch

from hanyi.config import DecodeConfig
from hanyi.decoding.beam import beam_search
from hanyi.decoding.constraints import Cancel, Hypothesis, max_output_length
from hanyi.decoding.greedy import greedy_search

DECODERS = {"greedy": greedy_search, "beam": beam_search}


def search(model, src: torch.Tensor, cfg: DecodeConfig, need_attention: bool = False,
           cancel: Cancel | None = None) -> list[list[Hypothesis]]:
    """Greedy search when ``cfg.beam_size == 1``, beam search otherwise."""
    decoder = DECODERS["greedy" if cfg.beam_size == 1 else "beam"]
    return decoder(model, src, cfg, need_attention=need_attention, cancel=cancel)


__all__ = ["DECODERS", "Cancel", "Hypothesis", "beam_search", "greedy_search",
           "max_output_length", "search"]
