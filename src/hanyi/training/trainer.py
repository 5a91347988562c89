"""The training loop: an explicit `train_step` and a small driver around it.

Per update: token-budget batches (``accumulate`` of them) -> forward under optional bf16
autocast -> label-smoothed loss normalised by the update's target tokens -> backward ->
gradient clipping -> AdamW step with the warm-up/inverse-√ learning rate.

Around it: dev loss and dev BLEU every ``eval_every`` updates, the best model kept in
``RUN/best``, step checkpoints in ``RUN/checkpoints`` (the newest named in ``RUN/LATEST``),
early stopping, averaging of the last N checkpoints, and exact resumption — the batches
are a pure function of (seed, epoch), and the RNG states are saved, so a resumed run
continues as if it had never stopped.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from hanyi.checkpoint import (
    average_weights,
    load_folder_weights,
    load_state,
    load_training_state,
    save_checkpoint,
)
from hanyi.config import ExperimentConfig, config_to_yaml, replace
from hanyi.data.batch import Batch
from hanyi.data.dataset import epoch_batches, load_split, make_batch
from hanyi.data.shards import TokenShards, binarize, shards_current
from hanyi.files import atomic_write_text
from hanyi.model import build_model
from hanyi.rundir import RunDir
from hanyi.tokenization.languages import load_prepared_vocabs
from hanyi.training.distributed import Distributed
from hanyi.training.init_weights import init_weights
from hanyi.training.loss import label_smoothed_nll
from hanyi.training.optim import build_optimizer, learning_rate, set_learning_rate
from hanyi.training.precision import autocast, bf16_supported, use_tf32
from hanyi.training.reporting import Reporter, SilentReporter
from hanyi.training.validation import dev_bleu, dev_loss

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    step: int = 0  # optimizer updates done
    epoch: int = 0
    batch_in_epoch: int = 0  # batches of this epoch already consumed
    elapsed: float = 0.0  # training seconds over all runs
    target_tokens: int = 0
    best_bleu: float = -1.0
    best_step: int = 0
    bad_evals: int = 0  # evaluations since the last improvement
    last_eval_step: int = 0


def seed_everything(seed: int) -> None:
    """The one place where seeds are set."""
    random.seed(seed)
    torch.manual_seed(seed)


def train_step(model, batches: list[Batch], optimizer, lr: float, cfg, pad_id: int,
               device: torch.device, dist: Distributed) -> dict:
    """One optimizer update over ``batches`` (gradient accumulation). Returns metrics."""
    model.train()
    n_tokens = dist.sum(sum(b.n_tokens for b in batches))  # over all processes
    loss_sum = nll_sum = 0.0
    for i, batch in enumerate(batches):
        batch = batch.to(device)
        sync = i == len(batches) - 1  # DDP: all-reduce gradients on the last micro-batch only
        with dist.no_sync(model, enabled=not sync), autocast(device, cfg.bf16):
            logits = model(batch.src, batch.tgt_in)  # (B, T, V)
            loss, nll = label_smoothed_nll(logits, batch.tgt_out, pad_id, cfg.label_smoothing)
            # Normalise by the update's tokens; DDP averages over ranks, so undo that mean.
            (loss * dist.world_size / n_tokens).backward()
        loss_sum += loss.item()
        nll_sum += nll.item()
    grad_norm = torch.nn.utils.clip_grad_norm_(
        model.parameters(), cfg.clip_norm if cfg.clip_norm > 0 else float("inf"))
    set_learning_rate(optimizer, lr)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return {"loss": dist.sum(loss_sum) / n_tokens, "nll": dist.sum(nll_sum) / n_tokens,
            "tokens": n_tokens, "grad_norm": float(grad_norm), "lr": lr}


class Trainer:
    """Builds everything from the config, then ``run()`` trains until a limit is hit."""

    def __init__(self, cfg: ExperimentConfig, run_dir: Path, device: torch.device,
                 reporter: Reporter | None = None,
                 stop_requested: Callable[[], bool] = lambda: False,
                 dist: Distributed | None = None):
        self.started = time.perf_counter()  # for the "first update" log line (bench/data_scale)
        if cfg.train.bf16 and not bf16_supported(device):
            log.warning("train.bf16: this %s has no native bfloat16 arithmetic (emulated bf16 "
                        "is ~15x slower than fp32): training in fp32", device.type)
            cfg = replace(cfg, train=replace(cfg.train, bf16=False))
        use_tf32(device, cfg.train.tf32)
        self.cfg, self.run_dir, self.device = cfg, Path(run_dir), device
        self.rundir = RunDir(self.run_dir)
        self.reporter = reporter or SilentReporter()
        self.stop_requested = stop_requested
        self.dist = dist or Distributed()
        prepared = Path(cfg.data.dir)
        self.src_vocab, self.tgt_vocab = load_prepared_vocabs(
            prepared, cfg.direction, cfg.tokenizer.split_punctuation)
        max_len, direction = cfg.model.max_positions, cfg.direction
        synthetic = frozenset(s.name for s in cfg.data.sources if s.synthetic)
        # the training split is read from its shards on disk (data/shards.py); a folder prepared
        # before shards existed is binarised once, by rank 0, while the others wait
        split = cfg.tokenizer.split_punctuation
        if self.dist.is_main and not shards_current(prepared, split):
            binarize(prepared, split)
        self.dist.barrier()
        self.train_data = TokenShards(prepared, "train", direction, max_len,
                                      self.src_vocab.bos_id, synthetic)
        self.dev_data = load_split(prepared, "dev", self.src_vocab, self.tgt_vocab, max_len,
                                   direction)
        self.data_ready_s = time.perf_counter() - self.started
        seed_everything(cfg.train.seed)
        self.model = build_model(cfg.model, self.src_vocab, self.tgt_vocab)
        # a run that has checkpoints already continues from them (--resume): the weights it
        # started from are not read again, so that folder may be gone by then
        if cfg.train.init_from and self.rundir.latest() is None:
            init_weights(self.model, Path(cfg.train.init_from), self.src_vocab, self.tgt_vocab)
        self.model = self.model.to(device)
        self.ddp_model = self.dist.wrap(self.model)  # DDP copies rank 0's weights everywhere
        if self.dist.enabled:  # different dropout masks on different ranks
            torch.manual_seed(cfg.train.seed + 1000 * self.dist.rank)
        self.optimizer = build_optimizer(self.model, cfg.train)
        self.state = TrainState()
        self.writer = None

    # ------------------------------------------------------------- checkpoints
    def resume(self) -> bool:
        """Restore the newest checkpoint of the run, if there is one."""
        path = self.rundir.latest()
        if path is None:
            return False
        load_folder_weights(self.model, path)
        saved = load_training_state(path)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.state = TrainState(**saved["state"])
        rng = saved["rng"]
        mine = rng[self.dist.rank] if self.dist.rank < len(rng) else rng[0]
        torch.set_rng_state(mine["torch"])
        if torch.cuda.is_available() and mine.get("cuda") is not None:
            torch.cuda.set_rng_state(mine["cuda"])
        random.setstate(_py_rng_from_saved(mine["python"]))
        self.reporter.message(f"resumed from {path} at step {self.state.step}")
        return True

    def rng_states(self) -> list[dict]:
        """Every rank's RNG states (a collective: all ranks must call it)."""
        cuda = torch.cuda.is_available() and self.device.type == "cuda"
        mine = {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(self.device) if cuda else None,
                "python": _py_rng_to_saved(random.getstate())}
        return self.dist.all_gather_object(mine)

    def save(self, name: str, meta: dict | None = None, rng: list | None = None) -> Path:
        """Save a checkpoint under RUN/NAME (atomic); with ``rng`` it can be resumed."""
        training_state = None
        if rng is not None:
            training_state = {"optimizer": self.optimizer.state_dict(),
                              "state": asdict(self.state), "rng": rng}
        meta = {"step": self.state.step, "epoch": self.state.epoch, **(meta or {})}
        return save_checkpoint(self.run_dir / name, self.model, self.cfg, self.src_vocab,
                               self.tgt_vocab, meta, training_state)

    def save_step(self) -> None:
        rng = self.rng_states()  # gathered from every rank, written by rank 0
        if not self.dist.is_main:
            return
        checkpoint = self.save(self.rundir.step_name(self.state.step), rng=rng)
        self.rundir.mark_latest(checkpoint)
        self.rundir.prune(max(self.cfg.train.keep_checkpoints, self.cfg.train.average_last))

    # ------------------------------------------------------------- evaluation
    def evaluate(self, collective: bool = True) -> dict:
        """Dev loss and dev BLEU, computed on rank 0 and (if ``collective``) sent to every
        rank, so early stopping and best-model choices are made once, identically."""
        t = self.cfg.train
        result = {"dev_loss": float("nan"), "dev_bleu": float("nan")}
        if self.dist.is_main:
            result["dev_loss"] = dev_loss(self.model, self.dev_data, self.src_vocab,
                                          self.tgt_vocab, t.max_tokens, self.device, t.bf16)
            result["dev_bleu"] = dev_bleu(self.model, self.cfg, self.dev_data, self.src_vocab,
                                          self.tgt_vocab, self.device, t.dev_bleu_sentences)
        return self.dist.broadcast_object(result) if collective else result

    def after_evaluation(self, result: dict) -> None:
        """Keep the best model, count evaluations without improvement, log history."""
        s = self.state
        s.last_eval_step = s.step
        improved = result["dev_bleu"] > s.best_bleu
        if improved:
            s.best_bleu, s.best_step, s.bad_evals = result["dev_bleu"], s.step, 0
        else:
            s.bad_evals += 1
        if self.dist.is_main:
            if improved:
                self.save("best", {**result, "selected_by": "dev_bleu"})
            self.log_scalars(result)
            record = {"step": s.step, "epoch": s.epoch, "train_minutes": round(s.elapsed / 60, 2),
                      "target_tokens": s.target_tokens, **result, "best_bleu": s.best_bleu}
            self.rundir.append_history(record)
        self.reporter.message(
            f"step {s.step}: dev loss {result['dev_loss']:.3f}  dev BLEU "
            f"{result['dev_bleu']:.2f}  (best {s.best_bleu:.2f} @ {s.best_step})")

    def log_scalars(self, metrics: dict) -> None:
        if self.writer is None:
            return
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(key.replace("dev_", "dev/").replace("train_", "train/"),
                                       value, self.state.step)

    # ------------------------------------------------------------- the loop
    def limits_reached(self) -> str | None:
        t, s = self.cfg.train, self.state
        if t.max_steps and s.step >= t.max_steps:
            return "max_steps"
        if t.max_epochs and s.epoch >= t.max_epochs:
            return "max_epochs"
        if t.max_minutes and s.elapsed >= t.max_minutes * 60:
            return "max_minutes"
        if t.patience and s.bad_evals >= t.patience:
            return "early_stopping"
        return None

    def updates(self):
        """Yield lists of ``accumulate`` batches, epoch after epoch, from the saved position.

        The next update's batches are built on a second thread while the caller trains on
        these (a GPU update waits for no batch building: 4 ms of a ~50 ms update on an
        H100). Only reading: the position (``state``) still moves when a list is yielded,
        so checkpoints and resuming are as without it."""
        t = self.cfg.train
        with ThreadPoolExecutor(max_workers=1) as pool:
            while True:
                order = epoch_batches(self.train_data, t.max_tokens, t.seed, self.state.epoch,
                                      weights={s.name: s.weight for s in self.cfg.data.sources})
                order = self.dist.shard(order)

                def build(start: int, order=order) -> list[Batch]:
                    return [make_batch(self.train_data, order[i], self.src_vocab,
                                       self.tgt_vocab) for i in range(start, start + t.accumulate)]

                ahead = None  # the future of the batches at the position after this one
                while self.state.batch_in_epoch + t.accumulate <= len(order):
                    start = self.state.batch_in_epoch
                    batches = ahead.result() if ahead is not None else build(start)
                    after = start + t.accumulate
                    ahead = (pool.submit(build, after) if after + t.accumulate <= len(order)
                             else None)
                    self.state.batch_in_epoch += t.accumulate
                    yield batches
                self.state.epoch += 1
                self.state.batch_in_epoch = 0
                if self.limits_reached():
                    return

    def run(self, resume: bool = False) -> dict:
        """Train until a limit; returns a summary. Safe to call with ``resume`` on a new run."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self.resume()
        if self.dist.is_main:
            for stale in self.rundir.remove_interrupted_writes():
                log.info("removed %s, left by an interrupted write", stale)
            atomic_write_text(self.run_dir / "config.yaml", config_to_yaml(self.cfg))
            from torch.utils.tensorboard import SummaryWriter  # slow import: only when training

            self.writer = SummaryWriter(str(self.run_dir / "tensorboard"))
        try:
            reason = self.loop()
        finally:
            self.reporter.close()
        summary = self.finish(reason)
        if self.writer is not None:
            self.writer.close()
        return summary

    def loop(self) -> str:
        t, s = self.cfg.train, self.state
        self.reporter.start(t.max_steps or None, s.step)
        reason = self.limits_reached()
        if reason:
            return reason
        clock, first_step = time.perf_counter(), s.step
        for batches in self.updates():
            metrics = train_step(self.ddp_model, batches, self.optimizer,
                                 learning_rate(s.step + 1, t), t, self.tgt_vocab.pad_id,
                                 self.device, self.dist)
            now = time.perf_counter()
            if s.step == first_step:  # how long a large corpus keeps the first update waiting
                log.info("first update done %.1f s after the trainer started (data ready after "
                         "%.1f s)", now - self.started, self.data_ready_s)
            s.step += 1
            s.elapsed = self.dist.max(s.elapsed + now - clock)  # every rank agrees on limits
            s.target_tokens += int(metrics["tokens"])
            metrics["tokens_per_s"] = metrics["tokens"] / max(now - clock, 1e-9)
            if t.max_minutes:  # a time budget: the bar shows the time left as its ETA
                metrics["remaining_s"] = max(t.max_minutes * 60 - s.elapsed, 0.0)
            clock = now
            self.reporter.update(s.step, metrics)
            if s.step % t.log_every == 0:
                self.log_scalars({f"train_{k}": v for k, v in metrics.items()})
                log.info("step %d: loss %.3f, lr %.2e, %.0f target tokens/s", s.step,
                         metrics["loss"], metrics["lr"], metrics["tokens_per_s"])
            if s.step % t.eval_every == 0:
                self.after_evaluation(self.evaluate())
            stop = self.dist.any(self.stop_requested())
            reason = self.limits_reached() or ("interrupted" if stop else None)
            if s.step % t.save_every == 0 or reason:
                self.save_step()
            if reason:
                return reason
            clock = time.perf_counter()  # time spent evaluating/saving is not training time
        return self.limits_reached() or "data_exhausted"

    def finish(self, reason: str) -> dict:
        """Final evaluation if needed, checkpoint averaging; returns the run summary."""
        s = self.state
        if reason != "interrupted" and s.last_eval_step != s.step and s.step > 0:
            self.after_evaluation(self.evaluate())
        summary = {"reason": reason, "step": s.step, "epoch": s.epoch,
                   "elapsed_minutes": round(s.elapsed / 60, 2), "best_bleu": s.best_bleu,
                   "best_step": s.best_step, "target_tokens": s.target_tokens}
        if reason != "interrupted" and self.cfg.train.average_last > 1:
            summary.update(self.average())
        if self.dist.is_main:
            self.rundir.write_json("summary.json", summary)
        return summary

    def average(self) -> dict:
        """Average the last N step checkpoints; it replaces `best` if its dev BLEU is higher.
        Rank 0 only (the others have nothing to do)."""
        paths = self.rundir.step_checkpoints()[-self.cfg.train.average_last:]
        if len(paths) < 2 or not self.dist.is_main:
            return {}
        current = {k: v.clone() for k, v in self.model.state_dict().items()}
        load_state(self.model, average_weights(paths), "averaged checkpoints")
        result = self.evaluate(collective=False)
        meta = {**result, "averaged_from": [p.name for p in paths]}
        self.save("averaged", meta)
        if result["dev_bleu"] > self.state.best_bleu:
            self.save("best", {**meta, "selected_by": "dev_bleu"})
        self.model.load_state_dict(current)
        self.reporter.message(f"averaged {len(paths)} checkpoints: dev BLEU "
                              f"{result['dev_bleu']:.2f} (best single {self.state.best_bleu:.2f})")
        return {"averaged_bleu": result["dev_bleu"], "averaged_from": len(paths)}


def _py_rng_to_saved(state: tuple) -> list:
    version, internal, gauss = state
    return [version, torch.tensor(internal, dtype=torch.int64), gauss]


def _py_rng_from_saved(saved: list) -> tuple:
    version, internal, gauss = saved
    return (version, tuple(int(x) for x in internal.tolist()), gauss)
