"""The PyTorch engine: pad a batch, run our own search (``hanyi.decoding``) on the model.

Optionally with dynamic int8 quantization (``quantize="int8"``): every ``nn.Linear`` gets
int8 weights, and its input is quantized per batch on the fly (Jacob et al. 2018;
``torch.ao.quantization.quantize_dynamic``). At batch 1 decoding reads every weight once per
step, so 4x smaller weights make it faster; embeddings, LayerNorm and attention stay
float32. A lossy option: its BLEU cost is measured in bench/infer_speed.py.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from hanyi.config import DecodeConfig
from hanyi.data.batch import pad_sequences
from hanyi.decoding import Cancel, Hypothesis, search
from hanyi.errors import ConfigError
from hanyi.model import Transformer

QUANTIZE_OPTIONS = ("none", "int8")


def quantize_int8(model: Transformer) -> Transformer:
    """A copy of ``model`` with dynamically quantized int8 Linear layers (CPU only)."""
    with warnings.catch_warnings():
        # torch 2.x announces that torch.ao.quantization and quantized tensors move to
        # torchao; the API still works in the torch we pin, so we silence only those
        # announcements, and only around this call.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"(?s).*(deprecated|will be removed)",
                                category=UserWarning)
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=False)


class TorchEngine:
    """Search over id lists with a hanyi :class:`Transformer`."""

    returns_attention = True  # cross-attention weights on request (need_attention)
    aligns = True  # the same weights give documents/align.py the last layer's mean

    def __init__(self, model: Transformer, pad_id: int, device: torch.device | str = "cpu",
                 quantize: str = "none"):
        if quantize not in QUANTIZE_OPTIONS:
            raise ConfigError(f"unknown quantize option {quantize!r}; choose from "
                              f"{', '.join(QUANTIZE_OPTIONS)}")
        self.device = torch.device(device)
        if quantize == "int8":
            if self.device.type != "cpu":
                raise ConfigError("--quantize int8 runs on the CPU only (PyTorch dynamic "
                                  "quantization); drop it or use --device cpu")
            model = quantize_int8(model)
        self.model, self.pad_id, self.quantize = model, pad_id, quantize

    @property
    def name(self) -> str:
        return "torch" if self.quantize == "none" else f"torch-{self.quantize}"

    def search(self, batch: list[list[int]], cfg: DecodeConfig, need_attention: bool = False,
               cancel: Cancel | None = None) -> list[list[Hypothesis]]:
        """batch: source id lists (no padding) -> n-best hypotheses per sentence;
        ``cancel`` is asked between decoding steps."""
        src = pad_sequences(batch, self.pad_id)  # (B, S)
        with torch.inference_mode():
            return search(self.model, src.to(self.device), cfg, need_attention=need_attention,
                          cancel=cancel)

    def attend(self, batch: list[list[int]], outputs: list[list[int]]) -> list[torch.Tensor]:
        """The cross-attention of given outputs (teacher-forced: one decoder pass over
        ``<s> + output``, no search), each (T, L, H, S) as a search's hypothesis holds it:
        a row per output token and one for EOS. For an output a search without attention
        chose (the number rescue's wide beam)."""
        src = pad_sequences(batch, self.pad_id).to(self.device)  # (B, S)
        bos = self.model.tgt_ids.bos
        tgt = pad_sequences([[bos] + out for out in outputs], self.pad_id).to(self.device)
        with torch.inference_mode():
            memory, src_padding = self.model.encode(src)
            weights = self.model.decode(tgt, memory, src_padding, need_weights=True).attention
        weights = weights.permute(1, 3, 0, 2, 4)  # (L, B, H, T, S) -> (B, T, L, H, S)
        return [weights[i, :len(out) + 1] for i, out in enumerate(outputs)]
