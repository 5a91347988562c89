"""Label-smoothed cross-entropy (§5.4).

Paper: "During training, we employed label smoothing of value ε_ls = 0.1 [36]. This hurts
perplexity, as the model learns to be more unsure, but improves accuracy and BLEU score."
The target distribution is (1 − ε) on the reference token plus ε spread uniformly, so the
model is never pushed towards infinite confidence:

    loss = (1 − ε) · (−log p_y) + ε / V · Σ_v (−log p_v)            (summed over real tokens)

DEVIATION (small): PyTorch's ``label_smoothing``, which we use, spreads ε over all V classes,
<pad> and <s> included, although the model is never asked to predict them; the Annotated
Transformer puts no mass on <pad> (ε / (V − 2) on every class but the reference and <pad>).
The difference is 2 · ε / V of the probability mass (ε = 0.1, V = 8,000: 0.0025%).

Padding positions are ignored. The sum over real tokens is returned, so the caller can
normalise by the number of tokens in the whole update (gradient accumulation and several
processes included).
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
