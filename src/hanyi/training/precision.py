"""Mixed precision: optional bfloat16 autocast (CPU with avx512_bf16, or CUDA).

Autocast runs matrix multiplications in bfloat16 (8-bit mantissa) while keeping fp32 master
weights; the loss is computed in fp32 (see loss.py). bf16 needs no loss scaling, unlike fp16.
"""

from __future__ import annotations

import contextlib

import torch


def autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
