"""Training throughput (target tokens/s) of a config's model on this machine: fp32, bf16
autocast and (on CUDA) fp32 with TF32 matmuls.

    python bench/train_speed.py configs/base.yaml [--steps 8] [--threads 2]
    python bench/train_speed.py configs/large.yaml --device cuda --real --steps 100

Batches are synthetic by default (random ids, source and target lengths uniform in
20..30, 160 sentences ≈ 4,000 target tokens), so the figure measures the model and
training step alone, not data loading. With ``--real`` they are the config's own training
batches (its prepared shards, its ``train.max_tokens``, the first of epoch 0, in order:
every length and shape a run meets), the same ones in each mode. Each mode runs warm-up
steps, then reports the median over --steps timed steps (on a GPU, synchronised). This is
a benchmark, never a test: the machine is noisy (±20%), compare ratios within one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from hanyi.config import load_config
from hanyi.data.batch import collate
from hanyi.data.dataset import epoch_batches, make_batch
from hanyi.data.shards import load_shards
from hanyi.model.transformer import SpecialIds, Transformer
from hanyi.tokenization import Vocab
from hanyi.training.distributed import Distributed
from hanyi.training.optim import build_optimizer
from hanyi.training.precision import use_tf32
from hanyi.training.trainer import train_step


def synthetic_batch(generator: torch.Generator, vocab: int, sentences: int):
    def lengths():
        return torch.randint(20, 31, (sentences,), generator=generator).tolist()

    src = [torch.randint(4, vocab, (n,), generator=generator).tolist() for n in lengths()]
    tgt = [torch.randint(4, vocab, (n,), generator=generator).tolist() for n in lengths()]
    return collate(src, tgt, 0, 0, 2, 3)


def real_batches(cfg, count: int) -> tuple[list, int, int]:
    """The first ``count`` training batches of epoch 0 of the config's prepared data, and
    the sizes of its two vocabularies."""
    prepared = Path(cfg.data.dir)
    src, tgt = (Vocab.from_file(prepared / f"{side}.model") for side in ("src", "tgt"))
    data = load_shards(prepared, "train", cfg.direction, cfg.model.max_positions, src.bos_id,
                       cfg.tokenizer.split_punctuation)
    order = epoch_batches(data, cfg.train.max_tokens, cfg.train.seed, 0,
                          weights={s.name: s.weight for s in cfg.data.sources})
    return [make_batch(data, indices, src, tgt) for indices in order[:count]], len(src), len(tgt)


def measure(cfg, mode: str, batches: list, vocabs: tuple[int, int], warmup: int,
            device: torch.device) -> tuple[float, float]:
    """Median target tokens/s and seconds per update over ``batches[warmup:]`` in ``mode``
    (fp32, tf32 or bf16)."""
    use_tf32(device, mode == "tf32")
    bf16 = mode == "bf16"
    torch.manual_seed(0)
    ids = SpecialIds(0, 2, 3)
    model = Transformer(cfg.model, vocabs[0], vocabs[1], ids, ids).to(device)
    train_cfg = replace(cfg.train, bf16=bf16)
    optimizer = build_optimizer(model, train_cfg)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rates, times = [], []
    for i, batch in enumerate(batches):
        sync()
        start = time.perf_counter()
        train_step(model, [batch], optimizer, 1e-4, train_cfg, 0, device, Distributed())
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - start)
            rates.append(batch.n_tokens / times[-1])
    return statistics.median(rates), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/base.yaml")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=160)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--real", action="store_true",
                        help="the config's own training batches instead of synthetic ones")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, as for `hanyi train` (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.set)
    device = torch.device(args.device)
    count = args.warmup + args.steps
    vocabs = cfg.tokenizer.src_vocab_size, cfg.tokenizer.tgt_vocab_size
    if args.real:
        batches, *vocabs = real_batches(cfg, count)
    else:
        generator = torch.Generator().manual_seed(0)
        batches = [synthetic_batch(generator, cfg.tokenizer.tgt_vocab_size, args.sentences)
                   for _ in range(count)]
    m = cfg.model
    print(f"model: d_model {m.d_model}, {m.encoder_layers}+{m.decoder_layers} layers, "
          f"{m.n_heads} heads, d_ff {m.d_ff}, attention {m.attention}; "
          f"torch {torch.__version__}, {args.threads} threads, {device}, "
          f"{'real' if args.real else 'synthetic'} batches")
    names = {"fp32": "fp32", "tf32": "fp32, TF32 matmuls", "bf16": "bf16 autocast"}
    modes = ["fp32", "tf32", "bf16"] if device.type == "cuda" else ["fp32", "bf16"]
    for mode in modes:
        tok_s, step_s = measure(cfg, mode, batches, tuple(vocabs), args.warmup, device)
        print(f"{names[mode]:19s} {tok_s:8.0f} target tokens/s "
              f"({step_s * 1000:.1f} ms/step, median of {args.steps})")


if __name__ == "__main__":
    main()
