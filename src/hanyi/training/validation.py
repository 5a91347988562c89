"""Validation during training: dev loss and dev BLEU."""

from __future__ import annotations

import torch

from hanyi.config import ExperimentConfig, replace
from hanyi.data.dataset import ParallelData, epoch_batches, make_batch
from hanyi.inference import Translator  # dev BLEU uses the text pipeline of `hanyi translate`
from hanyi.metrics import bleu
from hanyi.tokenization import Vocab
from hanyi.training.loss import label_smoothed_nll
from hanyi.training.precision import autocast


@torch.no_grad()
def dev_loss(model, data: ParallelData, src_vocab: Vocab, tgt_vocab: Vocab, max_tokens: int,
             device: torch.device, bf16: bool) -> float:
    """Per-token NLL (no smoothing) on the dev set."""
    model.eval()
    total = tokens = 0.0
    for indices in epoch_batches(data, max_tokens, 0, 0, shuffle=False):
        batch = make_batch(data, indices, src_vocab, tgt_vocab).to(device)
        with autocast(device, bf16):
            logits = model(batch.src, batch.tgt_in)
        _, nll = label_smoothed_nll(logits, batch.tgt_out, tgt_vocab.pad_id, 0.0)
        total += nll.item()
        tokens += batch.n_tokens
    return total / max(tokens, 1)


def dev_bleu(model, cfg: ExperimentConfig, data: ParallelData, src_vocab: Vocab,
             tgt_vocab: Vocab, device: torch.device, n: int) -> float:
    """Greedy BLEU on the first ``n`` dev sentences, through the real inference pipeline
    (so it equals what `hanyi evaluate --beam 1 --set decode.keep_numbers_beam=0` would
    report for this model): plain greedy search, without the number rescue's wider beam."""
    model.eval()
    greedy = replace(cfg.decode, beam_size=1, nbest=1, keep_numbers_beam=0)
    translator = Translator.from_model(model, cfg, src_vocab, tgt_vocab, greedy, device)
    hyps = [t.text for t in translator.translate(data.src_text[:n])]
    return bleu(hyps, data.tgt_text[:n], translator.target_language).score
