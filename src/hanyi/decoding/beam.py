"""Batched beam search (Sutskever et al. 2014; the paper uses beam 4, §6.1), KV-cached.

B sentences x K beams are decoded together as B·K rows. Each step:

1. ``expand``: add each beam's next-token log-probs to its running score -> (B, K·V).
2. ``select_top``: keep the best 2·K candidates per sentence (2·K so that, even if K of
   them end in EOS, K live ones remain).
3. ``finalize``: candidates ranked in the top K that end in EOS become finished
   hypotheses, scored with the length penalty (log P / |Y|^α; DEVIATION: the paper's
   §6.1 uses GNMT's ((5 + |Y|) / 6)^α with α = 0.6, see constraints.length_normalize).
4. ``choose_live``: the best K candidates *not* ending in EOS continue.
5. ``reorder``: token prefixes and the KV cache follow their beams.

A sentence is done when it has K finished hypotheses (fairseq's rule), or when none of
its live beams is possible any more (score -inf); done sentences leave the batch. The
length cap forces EOS, so every sentence finishes. Impossible candidates (score -inf: a
vocabulary smaller than 2·K after the banned tokens, or n-gram bans) are never finished.
"""

from __future__ import annotations

import torch

from hanyi.config import DecodeConfig
from hanyi.decoding.constraints import (
    Cancel,
    Hypothesis,
    apply_constraints,
    check_cancel,
    length_normalize,
    max_lengths,
)


def expand(scores: torch.Tensor, log_probs: torch.Tensor) -> torch.Tensor:
    """scores (N, K), log_probs (N·K, V) -> candidate scores (N, K·V)."""
    n, k = scores.shape
    return (scores.reshape(n * k, 1) + log_probs).view(n, -1)  # (N, K·V)


def select_top(candidates: torch.Tensor, k: int, vocab: int):
    """(N, K·V) -> scores, source beams, tokens of the best 2K, each (N, 2K)."""
    top_scores, top_index = candidates.topk(min(2 * k, candidates.size(1)), dim=1)
    return top_scores, top_index // vocab, top_index % vocab


def choose_live(top_scores, beams, tokens, is_eos, k: int):
    """The best K candidates that do not end in EOS (rank order kept) -> three (N, K)."""
    n_cand = top_scores.size(1)
    rank = torch.arange(n_cand, device=top_scores.device).expand_as(top_scores)
    order = (rank + is_eos.long() * n_cand).argsort(dim=1)[:, :k]  # live first, by rank
    return top_scores.gather(1, order), beams.gather(1, order), tokens.gather(1, order)


class _Search:
    """Per-call state of one beam search; ``run`` drives the steps above."""

    def __init__(self, model, src: torch.Tensor, cfg: DecodeConfig, need_attention: bool):
        self.model, self.cfg, self.need_attention = model, cfg, need_attention
        self.k, self.ids = cfg.beam_size, model.tgt_ids
        memory, src_padding = model.encode(src)
        n, k, dev = src.size(0), self.k, src.device
        rep = torch.arange(n, device=dev).repeat_interleave(k)  # (N·K,) row -> sentence
        self.memory, self.src_padding = memory[rep], src_padding[rep]  # (N·K, S, ·)
        self.limit = max_lengths(self.src_padding, cfg)  # (N·K,)
        self.sentence = torch.arange(n, device=dev)  # original index of each live sentence
        self.tokens = torch.full((n * k, 1), self.ids.bos, dtype=torch.long, device=dev)
        self.scores = torch.full((n, k), float("-inf"), device=dev)
        self.scores[:, 0] = 0.0  # at step 0 all beams are the same: expand only the first
        self.attention = None  # (N·K, t, L, H, S) when need_attention
        self.finished: list[list[Hypothesis]] = [[] for _ in range(n)]
        self.cache = None

    def finalize(self, step, top_scores, beams, is_eos, history) -> None:
        """Turn EOS candidates ranked in the top K into finished hypotheses.

        Everything read from the step's tensors is read once, for all candidates together
        (four transfers a step): read one number at a time, as ``.item()``, each is a wait
        for the GPU, and a batch of 512 sentences had hundreds a step."""
        rows, ranks = (is_eos[:, :self.k]).nonzero(as_tuple=True)  # (C,) each
        if rows.numel() == 0:
            return
        flat = rows * self.k + beams[rows, ranks]  # (C,) the prefix each candidate extends
        sentences = self.sentence[rows].tolist()
        log_probs = top_scores[rows, ranks].tolist()
        prefixes = self.tokens[flat, 1:].tolist()  # (C, t) without <s>
        length = step + 1  # output tokens including EOS
        for c, (sentence, lp) in enumerate(zip(sentences, log_probs, strict=True)):
            done = self.finished[sentence]
            if len(done) >= self.k or lp == float("-inf"):
                continue  # full, or an impossible candidate (small vocab, banned tokens)
            done.append(Hypothesis(prefixes[c],
                                   length_normalize(lp, length, self.cfg.length_penalty),
                                   lp, None if history is None else history[flat[c]]))

    def reorder(self, beams, tokens, history) -> None:
        """Prefixes, cache and attention history follow the chosen beams."""
        n = beams.size(0)
        flat = (torch.arange(n, device=beams.device).unsqueeze(1) * self.k + beams).view(-1)
        self.tokens = torch.cat([self.tokens[flat], tokens.view(-1, 1)], dim=1)
        self.cache = self.cache.select(flat)
        if history is not None:
            self.attention = history[flat]

    def drop_done(self) -> None:
        """Remove sentences that are done from every batch-shaped tensor: those with K
        finished hypotheses, and those whose live beams are all impossible (score -inf, as
        after the length cap forced EOS), which could never finish."""
        full = torch.tensor([len(self.finished[s]) >= self.k for s in self.sentence.tolist()],
                            device=self.sentence.device)
        live = ~full & torch.isfinite(self.scores).any(dim=1)  # (N,)
        if live.all():
            return
        keep = live.nonzero(as_tuple=True)[0]  # sentences
        rows = (keep.unsqueeze(1) * self.k + torch.arange(self.k, device=keep.device)).view(-1)
        self.sentence, self.scores = self.sentence[keep], self.scores[keep]
        self.tokens, self.limit = self.tokens[rows], self.limit[rows]
        self.memory, self.src_padding = self.memory[rows], self.src_padding[rows]
        self.cache = self.cache.select(rows)
        if self.attention is not None:
            self.attention = self.attention[rows]

    def step(self, step: int) -> None:
        out = self.model.decode_step(self.tokens if self.cache is None else self.tokens[:, -1:],
                                     self.memory, self.src_padding, self.cache,
                                     need_weights=self.need_attention)
        self.cache = out.cache
        lp = apply_constraints(out.log_probs, self.tokens, step, self.limit, self.ids, self.cfg)
        top_scores, beams, tokens = select_top(expand(self.scores, lp), self.k, lp.size(1))
        is_eos = tokens == self.ids.eos
        history = None  # (N·K, t + 1, L, H, S): attention of every step so far, this one too
        if self.need_attention:
            now = out.attention.transpose(0, 1).unsqueeze(1)  # (N·K, 1, L, H, S)
            history = now if self.attention is None else torch.cat([self.attention, now], 1)
        self.finalize(step, top_scores, beams, is_eos, history)
        self.scores, beams, tokens = choose_live(top_scores, beams, tokens, is_eos, self.k)
        self.reorder(beams, tokens, history)
        self.drop_done()

    def run(self, cancel: Cancel | None = None) -> list[list[Hypothesis]]:
        step = 0
        while self.sentence.numel() > 0:
            check_cancel(cancel)
            self.step(step)
            step += 1
        for hyps in self.finished:
            hyps.sort(key=lambda h: h.score, reverse=True)
        return self.finished


@torch.inference_mode()
def beam_search(model, src: torch.Tensor, cfg: DecodeConfig, need_attention: bool = False,
                cancel: Cancel | None = None) -> list[list[Hypothesis]]:
    """src: (B, S) -> for each sentence its ``cfg.nbest`` best hypotheses, best first.
    ``cancel()`` is asked before every step; True stops the search (raises Cancelled)."""
    finished = _Search(model, src, cfg, need_attention).run(cancel)
    return [hyps[:cfg.nbest] for hyps in finished]
