"""Mixed precision: optional bfloat16 autocast (CPU with avx512_bf16, or CUDA).

Autocast runs matrix multiplications in bfloat16 (8-bit mantissa) while keeping fp32 master
weights; the loss is computed in fp32 (see loss.py). bf16 needs no loss scaling, unlike fp16.
"""

from __future__ import annotations

import contextlib

import torch


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 matmuls natively. A CPU without avx512_bf16 / AMX
    (e.g. AVX2-only Zen 3) emulates them: measured here, one update took ~60 s instead of
    ~4 s in fp32, so training falls back to fp32 there (see Trainer)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # private API: treat its absence as "no"
        return False


def autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
