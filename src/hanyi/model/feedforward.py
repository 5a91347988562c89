"""Position-wise feed-forward network (§3.3, Eq. 2):

    FFN(x) = max(0, x W1 + b1) W2 + b2

Two linear maps with a ReLU between them, applied to every position separately
(D -> F -> D, with F = 4·D in the paper: d_ff = 2048 for d_model = 512). Without the ReLU
(an easy slip to make) the two maps collapse into one linear map with extra parameters.
"""

from __future__ import annotations

import torch
from torch import nn


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)  # W1, b1
        self.linear2 = nn.Linear(d_ff, d_model)  # W2, b2
        self.dropout = nn.Dropout(dropout)  # on the hidden layer, as in tensor2tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.linear1(x))  # (B, T, F) — the max(0, ·) of Eq. 2
        return self.linear2(self.dropout(hidden))  # (B, T, D)
