"""Label-smoothed cross-entropy (§5.4: "we employed label smoothing of value ε_ls = 0.1").

Smoothing spreads ε of each target's probability mass uniformly over the vocabulary, so
the model is never pushed to infinite confidence: perplexity gets worse, BLEU better (the
paper's observation). Padding positions are ignored. The sum over real tokens is returned,
DEVIATION (small): PyTorch's ``label_smoothing`` spreads ε over all V classes, the padding
and <s> classes included, which the model can never be asked to predict; the Annotated
Transformer puts no mass on padding. The difference is 2/V of ε (V = 8,000: 0.0025%).
so the caller can normalise by the number of tokens in the whole update (gradient
accumulation and several processes included).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def label_smoothed_nll(logits: torch.Tensor, target: torch.Tensor, pad_id: int,
                       smoothing: float) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (B, T, V), target (B, T) -> (smoothed loss sum, plain NLL sum), both scalars.

    Computed in float32 even under bf16 autocast: log-softmax over a large vocabulary is
    where low precision hurts most.
    """
    logits = logits.float().reshape(-1, logits.size(-1))  # (B·T, V)
    target = target.reshape(-1)  # (B·T,)
    loss = F.cross_entropy(logits, target, ignore_index=pad_id, label_smoothing=smoothing,
                           reduction="sum")
    with torch.no_grad():
        nll = F.cross_entropy(logits, target, ignore_index=pad_id, reduction="sum")
    return loss, nll
