"""What every search strategy shares: hypotheses, length limits and the rules that keep a
search from running away.

The classic failure of NMT engines (CTranslate2/Argos users' most-reported bug) is
"Hello" -> "你好你好你好…" 256 times: a model that never emits EOS decodes to an absurd
length cap. We guard four ways:

* the length cap scales with the source: ``max_len = a * source_tokens + b``, and has an
  absolute ceiling (``max_output_tokens``);
* EOS is forced at the cap, and banned at step 0 so an output is never empty;
* EOS is forced when a hypothesis is caught in a loop (``stop_loops``, see ``looping``);
* optionally, no n-gram may occur twice in a hypothesis (``no_repeat_ngram_size``).

One more rule: ``<unk>`` is never generated. It would print as "⁇"; a model learns to
write it where its training targets held a character its pieces lack (copying the name
"Bartolomé" into Chinese: 31 "⁇" in 997 FLORES translations before this rule).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import torch

from hanyi.config import DecodeConfig
from hanyi.errors import Cancelled

Cancel = Callable[[], bool]  # asked between decoding steps: True = stop now


def check_cancel(cancel: Cancel | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled("translation cancelled")


@dataclass
class Hypothesis:
    tokens: list[int]  # target ids, without <s> and </s>
    score: float  # log P(tokens, </s>) / length ** length_penalty (what ranks hypotheses)
    log_prob: float  # log P(tokens, </s>) — unnormalised
    attention: torch.Tensor | None = None  # (T, L, H, S) cross-attention per output token


def length_normalize(log_prob: torch.Tensor | float, length: int, alpha: float):
    """Score that ranks hypotheses of different lengths:

        score(Y) = log P(Y) / |Y|^α        α = decode.length_penalty (default 1.0)

    |Y| counts the output tokens, </s> included. α = 0 keeps the raw log P, which favours
    short outputs; α = 1 is the per-token average.

    Paper: §6.1, "We used beam search with a beam size of 4 and length penalty α = 0.6",
    the penalty of Wu et al. 2016 (GNMT): score(Y) = log P(Y) / lp(Y) with
    lp(Y) = (5 + |Y|)^α / (5 + 1)^α.
    DEVIATION: we divide by |Y|^α instead (fairseq's ``lenpen``), because CTranslate2, our
    export target, computes that, so both engines rank alike; and our α defaults to 1.0,
    not 0.6."""
    return log_prob / (length ** alpha)


def max_output_length(source_tokens: int, cfg: DecodeConfig) -> int:
    """The length cap of one sentence: ``a * source_tokens + b`` output tokens, EOS included
    (rounded down), and never more than ``cfg.max_output_tokens``. The one home of this
    rule: every engine and the search use it.

    DEVIATION: §6.1: "We set the maximum output length during inference to input length +
    50, but terminate early when possible [38]." Chinese output is shorter than English input in
    tokens, and the cap is what bounds a runaway hypothesis, so ours scales with the input
    (default 2·S + 10) and has an absolute ceiling."""
    return min(int(source_tokens * cfg.max_len_a) + cfg.max_len_b, cfg.max_output_tokens)


def max_lengths(src_padding: torch.Tensor, cfg: DecodeConfig) -> torch.Tensor:
    """(B, S) bool, True = real source token -> (B,) :func:`max_output_length` of each."""
    lengths = src_padding.sum(dim=1).tolist()  # (B,) tokens per sentence
    return torch.tensor([max_output_length(n, cfg) for n in lengths], dtype=torch.long,
                        device=src_padding.device)


# A hypothesis "loops" when it ends in the same p-gram repeated R times in a row, for a
# period p of 1..8 tokens: R = 8 for single tokens ("哈哈哈哈哈哈哈哈"), 4 for bigrams, 3 for
# longer patterns. Real sentences essentially never do; a model that has lost its way
# (garbage input, binary data) does, and would otherwise run to the length cap.
LOOP_REPEATS = {1: 8, 2: 4, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3, 8: 3}


def looping(tokens: torch.Tensor) -> torch.Tensor:
    """(N, t) output prefixes -> (N,) bool: which end in a loop (see LOOP_REPEATS)."""
    found = torch.zeros(tokens.size(0), dtype=torch.bool, device=tokens.device)
    for period, repeats in LOOP_REPEATS.items():
        span = period * repeats
        if tokens.size(1) < span:
            continue
        tail = tokens[:, -span:].reshape(-1, repeats, period)  # (N, R, p)
        found |= (tail == tail[:, :1]).all(dim=2).all(dim=1)
    return found


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


def loop_end(tokens: list[int]) -> int | None:
    """For an engine that cannot stop a loop while it decodes (CTranslate2): the length at
    which our search would have ended ``tokens`` (the shortest prefix that :func:`looping`
    catches), or None if it never loops. The same rule as :func:`looping` on plain lists
    (a tail of R p-grams that all equal its last p-gram), since it runs on every
    hypothesis: one tensor per prefix took a fifth of a document's translation time."""
    fewest = min(LOOP_REPEATS.values())  # no token that often: no loop (most outputs)
    if not tokens or max(Counter(tokens).values()) < fewest:
        return None
    shortest = min(p * r for p, r in LOOP_REPEATS.items())
    for end in range(shortest, len(tokens) + 1):
        for period, repeats in LOOP_REPEATS.items():
            span = period * repeats
            if span <= end and tokens[end - span:end] == tokens[end - period:end] * repeats:
                return end
    return None


def apply_constraints(log_probs: torch.Tensor, tokens: torch.Tensor, step: int,
                      max_len: torch.Tensor, specials, cfg: DecodeConfig) -> torch.Tensor:
    """Shared search rules, in place on (N, V) log-probs for step ``step`` (0-based).

    ``tokens`` (N, step + 1) are the prefixes, <s> first; ``max_len`` (N,) the caps.
    """
    log_probs[:, specials.pad] = float("-inf")
    log_probs[:, specials.bos] = float("-inf")
    if specials.unk is not None:
        log_probs[:, specials.unk] = float("-inf")
    if step == 0:
        log_probs[:, specials.eos] = float("-inf")  # never an empty translation
    if cfg.no_repeat_ngram_size > 0:
        ban_repeated_ngrams(log_probs, tokens[:, 1:], cfg.no_repeat_ngram_size)
    must_end = (step + 1) >= max_len  # this token is the last one allowed
    if cfg.stop_loops:
        must_end |= looping(tokens[:, 1:])
    if must_end.any():
        eos_lp = log_probs[must_end, specials.eos].clone()
        log_probs[must_end] = float("-inf")
        # Keep the model's own EOS score if it is finite; otherwise make EOS certain.
        log_probs[must_end, specials.eos] = torch.where(torch.isfinite(eos_lp), eos_lp,
                                                        torch.zeros_like(eos_lp))
    return log_probs
