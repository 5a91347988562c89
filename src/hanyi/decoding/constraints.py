"""What every search strategy shares: hypotheses, length limits and the rules that keep a
search from running away.

The classic failure of NMT engines (CTranslate2/Argos users' most-reported bug) is
"Hello" -> "你好你好你好…" 256 times: a model that never emits EOS decodes to an absurd
length cap. We guard three ways:

* the length cap scales with the source: ``max_len = a * source_tokens + b``;
* EOS is forced at the cap, and banned at step 0 so an output is never empty;
* optionally, no n-gram may occur twice in a hypothesis (``no_repeat_ngram_size``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Hypothesis:
    tokens: list[int]  # target ids, without <s> and </s>
    score: float  # log P(tokens, </s>) / length ** length_penalty (what ranks hypotheses)
    log_prob: float  # log P(tokens, </s>) — unnormalised
    attention: torch.Tensor | None = None  # (T, L, H, S) cross-attention per output token


def length_normalize(log_prob: torch.Tensor | float, length: int, alpha: float):
    """Score for ranking: sum of log-probs / length^alpha. alpha = 0 keeps raw log P,
    which favours short outputs; alpha = 1 is the per-token average."""
    return log_prob / (length ** alpha)


def max_output_length(source_tokens: int, a: float, b: int) -> int:
    """The length cap of one sentence: ``a * source_tokens + b`` output tokens, EOS included
    (rounded down). The one home of this rule: every engine and the search use it."""
    return int(source_tokens * a) + b


def max_lengths(src_padding: torch.Tensor, a: float, b: int) -> torch.Tensor:
    """(B, S) bool, True = real source token -> (B,) :func:`max_output_length` of each."""
    lengths = src_padding.sum(dim=1).tolist()  # (B,) tokens per sentence
    return torch.tensor([max_output_length(n, a, b) for n in lengths], dtype=torch.long,
                        device=src_padding.device)


def ban_repeated_ngrams(log_probs: torch.Tensor, tokens: torch.Tensor, n: int) -> None:
    """In place: forbid any token that would complete an n-gram already in the hypothesis.

    log_probs: (N, V); tokens: (N, t) the prefixes so far. Vectorised: every window of the
    prefix whose first n-1 tokens equal the prefix's last n-1 tokens bans its n-th token.
    """
    t = tokens.size(1)
    if n <= 0 or t < n:
        return
    windows = tokens.unfold(1, n, 1)  # (N, t - n + 1, n)
    if n == 1:
        match = torch.ones(windows.shape[:2], dtype=torch.bool, device=tokens.device)
    else:
        last = tokens[:, t - n + 1:]  # (N, n - 1)
        match = (windows[:, :, :-1] == last.unsqueeze(1)).all(dim=-1)  # (N, t - n + 1)
    rows, cols = match.nonzero(as_tuple=True)
    log_probs[rows, windows[rows, cols, -1]] = float("-inf")


def apply_constraints(log_probs: torch.Tensor, tokens: torch.Tensor, step: int,
                      max_len: torch.Tensor, specials, no_repeat_ngram_size: int) -> torch.Tensor:
    """Shared search rules, in place on (N, V) log-probs for step ``step`` (0-based).

    ``tokens`` (N, step + 1) are the prefixes, <s> first; ``max_len`` (N,) the caps.
    """
    log_probs[:, specials.pad] = float("-inf")
    log_probs[:, specials.bos] = float("-inf")
    if step == 0:
        log_probs[:, specials.eos] = float("-inf")  # never an empty translation
    if no_repeat_ngram_size > 0:
        ban_repeated_ngrams(log_probs, tokens[:, 1:], no_repeat_ngram_size)
    at_cap = (step + 1) >= max_len  # this token is the last one allowed
    if at_cap.any():
        eos_lp = log_probs[at_cap, specials.eos].clone()
        log_probs[at_cap] = float("-inf")
        # Keep the model's own EOS score if it is finite; otherwise make EOS certain.
        log_probs[at_cap, specials.eos] = torch.where(torch.isfinite(eos_lp), eos_lp,
                                                      torch.zeros_like(eos_lp))
    return log_probs
