"""Token embeddings and sinusoidal positions (§3.4 and §3.5).

Attention by itself ignores word order (it is a weighted sum over a set), so the model adds
to each token's embedding a vector that depends only on its position: §3.5, "we add
"positional encodings" to the input embeddings at the bottoms of the encoder and decoder
stacks."
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ScaledEmbedding(nn.Module):
    """Token embedding multiplied by √d_model (§3.4: "we multiply those weights by √d_model").

    The scaling puts the embeddings on the same scale as the positional encodings, whose
    entries are in [-1, 1]; the embedding itself is initialised with std d_model^-0.5.
    """

    def __init__(self, vocab_size: int, d_model: int, pad_id: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, d_model))
        self.pad_id = pad_id
        self.scale = math.sqrt(d_model)
        nn.init.normal_(self.weight, mean=0.0, std=d_model**-0.5)
        with torch.no_grad():
            self.weight[pad_id].zero_()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(tokens, self.weight) * self.scale  # (B, T, D)


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """(max_len, D) table of §3.5:

        PE(pos, 2i)   = sin(pos / 10000^(2i/d_model))
        PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))

    Each dimension is a sinusoid of a different wavelength (2π .. 10000·2π), so a fixed
    offset k turns PE(pos) into PE(pos+k) by a linear map — the paper's reason for choosing it.
    """
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (max_len, 1)
    inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32)
                         * (-math.log(10000.0) / d_model))  # (D/2,)
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * inv_freq)  # even dimensions
    table[:, 1::2] = torch.cos(position * inv_freq)  # odd dimensions
    return table


class SinusoidalPositions(nn.Module):
    """Adds PE(offset .. offset+T-1) to a (B, T, D) input. Not learned, not saved."""

    def __init__(self, d_model: int, max_len: int):
        super().__init__()
        self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        t = x.size(1)
        if offset + t > self.table.size(0):
            raise ValueError(f"sequence of {offset + t} positions exceeds max_positions "
                             f"{self.table.size(0)}")
        return x + self.table[offset:offset + t].to(x.dtype)  # (B, T, D)
