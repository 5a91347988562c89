"""Every attention kernel can be trained and decoded with: a tiny model learns (loss goes
down) and beam search (KV cache, attention weights) runs on it.

Each kernel is used at every site it supports (encoder self, decoder self, cross);
the others keep `sdpa`. A few seconds per kernel on 2 CPU cores.
"""

from __future__ import annotations

import pytest
import torch
from helpers import synthetic_sentences

from hanyi.config import DecodeConfig
from hanyi.data.batch import collate
from hanyi.decoding import search
from hanyi.model import build_model
from hanyi.model.attention import ATTENTION_KERNELS
from hanyi.model.attention.efficient import EFFICIENT_KERNELS
from hanyi.training.loss import label_smoothed_nll

STEPS = 40


def batches(src_vocab, tgt_vocab, n_batches: int = 4, size: int = 16):
    en, zh = synthetic_sentences(n_batches * size, seed=3)
    src, tgt = src_vocab.encode_batch(en), tgt_vocab.encode_batch(zh)
    return [collate(src[i:i + size], tgt[i:i + size], src_vocab.pad_id, tgt_vocab.pad_id,
                    tgt_vocab.bos_id, tgt_vocab.eos_id) for i in range(0, len(src), size)]


@pytest.mark.parametrize("name", sorted(ATTENTION_KERNELS))
def test_tiny_model_trains_with_kernel(name, toy_vocabs, small_model_config):
    kernel = EFFICIENT_KERNELS.get(name)  # the paper's kernels serve every site
    cfg = small_model_config
    cfg.encoder_attention = name
    cfg.decoder_attention = name if kernel is None or kernel.supports_causal else "sdpa"
    cfg.cross_attention = name if kernel is None or kernel.supports_cross else "sdpa"
    cfg.attention_window, cfg.attention_block, cfg.attention_rank = 2, 2, 8
    torch.manual_seed(0)
    model = build_model(cfg, *toy_vocabs)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    data = batches(*toy_vocabs)
    pad = toy_vocabs[1].pad_id
    losses = []
    for step in range(STEPS):
        batch = data[step % len(data)]
        loss, nll = label_smoothed_nll(model(batch.src, batch.tgt_in), batch.tgt_out, pad, 0.0)
        optimizer.zero_grad()
        (loss / batch.n_tokens).backward()
        optimizer.step()
        losses.append(nll.item() / batch.n_tokens)
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < 0.6 * first, f"{name}: loss {first:.2f} -> {last:.2f}"
    model.eval()
    with torch.no_grad():
        hyps = search(model, data[0].src[:3], DecodeConfig(beam_size=2), need_attention=True)
    assert len(hyps) == 3 and all(h[0].attention is not None or not h[0].tokens for h in hyps)
