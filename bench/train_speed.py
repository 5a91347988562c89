"""Training throughput (target tokens/s) of a config's model on this machine, fp32 vs bf16.

    python bench/train_speed.py configs/base.yaml [--steps 8] [--threads 2]

Batches are synthetic (random ids, source and target lengths uniform in 20..30, 160
sentences ≈ 4,000 target tokens), so the figure measures the model and training step
alone, not data loading. Each mode runs warm-up steps, then reports the median over
--steps timed steps. This is a
benchmark, never a test: the machine is noisy (±20%), compare ratios within one run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from hanyi.config import load_config
from hanyi.data.batch import collate
from hanyi.model.transformer import SpecialIds, Transformer
from hanyi.training.distributed import Distributed
from hanyi.training.optim import build_optimizer
from hanyi.training.trainer import train_step


def synthetic_batch(generator: torch.Generator, vocab: int, sentences: int):
    def lengths():
        return torch.randint(20, 31, (sentences,), generator=generator).tolist()

    src = [torch.randint(4, vocab, (n,), generator=generator).tolist() for n in lengths()]
    tgt = [torch.randint(4, vocab, (n,), generator=generator).tolist() for n in lengths()]
    return collate(src, tgt, 0, 0, 2, 3)


def measure(cfg, bf16: bool, steps: int, warmup: int, sentences: int) -> tuple[float, float]:
    torch.manual_seed(0)
    vocab = cfg.tokenizer.tgt_vocab_size
    ids = SpecialIds(0, 2, 3)
    model = Transformer(cfg.model, cfg.tokenizer.src_vocab_size, vocab, ids, ids)
    train_cfg = cfg.train
    train_cfg.bf16 = bf16
    optimizer = build_optimizer(model, train_cfg)
    generator = torch.Generator().manual_seed(0)
    times, tokens = [], 0
    for i in range(warmup + steps):
        batch = synthetic_batch(generator, vocab, sentences)
        start = time.perf_counter()
        train_step(model, [batch], optimizer, 1e-4, train_cfg, 0, torch.device("cpu"),
                   Distributed())
        if i >= warmup:
            times.append(time.perf_counter() - start)
            tokens = batch.n_tokens
    median = statistics.median(times)
    return tokens / median, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/base.yaml")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=160)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    m = cfg.model
    print(f"model: d_model {m.d_model}, {m.encoder_layers}+{m.decoder_layers} layers, "
          f"{m.n_heads} heads, d_ff {m.d_ff}, attention {m.attention}; "
          f"torch {torch.__version__}, {args.threads} threads")
    for bf16 in (False, True):
        tok_s, step_s = measure(cfg, bf16, args.steps, args.warmup, args.sentences)
        print(f"{'bf16 autocast' if bf16 else 'fp32':14s} {tok_s:8.0f} target tokens/s "
              f"({step_s:.2f} s/step, median of {args.steps})")


if __name__ == "__main__":
    main()
