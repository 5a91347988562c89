"""Mixed precision: optional bfloat16 autocast (CPU with avx512_bf16, or CUDA), and
optional TensorFloat-32 matmuls on CUDA.

Autocast runs matrix multiplications in bfloat16 (8-bit mantissa) while keeping fp32 master
weights; the loss is computed in fp32 (see loss.py). bf16 needs no loss scaling, unlike fp16.

TF32 keeps every tensor in fp32 and lets the GPU's tensor cores multiply with a 10-bit
mantissa (Ampere and later). An fp32 update of the configs/large.yaml model on an H100
took 51 ms for ~1.2 TFLOP (6 x each weight matrix x the tokens it sees): ~24 TFLOP/s,
the pace of plain fp32 units, not of tensor cores (docs/RESULTS.md, "7th session"); bf16
autocast, the usual way onto the tensor cores, was unexpectedly 7x slower there. TF32 is
the other way. PyTorch's switch for it is process-wide (``torch.backends``): the trainer
sets it from its config, once, for the device it trains on.
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


def use_tf32(device: torch.device, enabled: bool) -> None:
    """Let fp32 matmuls (and cuDNN) on ``device`` use TF32 tensor cores, or not. CUDA only:
    nothing changes for other devices."""
    if device.type != "cuda":
        return
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
