"""`hanyi train CONFIG --out RUN [--resume]`: train, resumable after any interruption."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

from tqdm.contrib.logging import logging_redirect_tqdm

from hanyi.cli.common import add_config_args, add_device_arg, config_from_args
from hanyi.config import config_from_yaml_text, to_dict
from hanyi.errors import ConfigError
from hanyi.runtime import pick_device, set_threads, setup_logging

log = logging.getLogger("hanyi.train")


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model",
                       description="Train the model of CONFIG on its prepared data. Ctrl-C "
                                   "(or SIGTERM) saves a checkpoint and stops; --resume "
                                   "continues from the newest checkpoint in --out.")
    add_config_args(p)
    p.add_argument("--out", required=True, help="run directory (checkpoints, best/, logs)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in --out")
    add_device_arg(p)
    p.set_defaults(run=run)


class TqdmReporter:
    """Progress bar with loss, tokens/s and ETA (rank 0 only)."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar = enabled, None

    def start(self, total, initial):
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

    def update(self, step, metrics):
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            postfix = {"loss": f"{metrics['loss']:.3f}", "lr": f"{metrics['lr']:.2e}",
                       "tok_s": f"{metrics['tokens_per_s']:.0f}"}
            if "remaining_s" in metrics:
                minutes, seconds = divmod(int(metrics["remaining_s"]), 60)
                postfix["left"] = f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
            self.bar.set_postfix(postfix, refresh=False)

    def message(self, text):
        if self.enabled:  # through logging: to the console above the bar, and to train.log
            log.info("%s", text)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class StopFlag:
    """First Ctrl-C / SIGTERM: finish the current update, save, stop. Second: abort."""

    def __init__(self):
        self.requested = False
        signal.signal(signal.SIGINT, self.handle)
        signal.signal(signal.SIGTERM, self.handle)

    def handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __call__(self) -> bool:
        return self.requested


def check_run_dir(out: Path, resume: bool, cfg) -> None:
    if (out / "LATEST").exists() and not resume:
        raise ConfigError(f"{out} already holds a run; pass --resume to continue it, or "
                          f"choose another --out")
    saved = out / "config.yaml"
    if resume and saved.is_file():
        # read as a config, so that a key added since (with its default) is no difference
        old = config_from_yaml_text(saved.read_text(encoding="utf-8"))
        for section in ("model", "tokenizer"):
            if comparable(old, section) != comparable(cfg, section):
                raise ConfigError(f"--resume: the {section} section differs from the one "
                                  f"{out} was trained with ({saved})")


# how `prepare` trains new vocabularies, not what a run's vocabularies are: a default of
# these may change (tokenizer.max_sentences did) and a saved run still resumes
PREPARE_ONLY = {"tokenizer": ("max_sentences", "seed_pieces")}


def comparable(cfg, section: str) -> dict:
    """A config section as --resume compares it: without the keys only prepare reads."""
    values = to_dict(getattr(cfg, section))
    return {k: v for k, v in values.items() if k not in PREPARE_ONLY.get(section, ())}


def run(args) -> int:
    cfg = config_from_args(args)
    t = cfg.train
    if t.max_steps <= 0 and t.max_epochs <= 0 and t.max_minutes <= 0:
        raise ConfigError("training needs a limit: set train.max_steps, train.max_epochs or "
                          "train.max_minutes (in the config or with --set)")
    out = Path(args.out)
    check_run_dir(out, args.resume, cfg)
    device = pick_device(args.device if args.device != "auto" else cfg.train.device)
    set_threads(cfg.train.num_threads)
    from hanyi.training.distributed import Distributed
    from hanyi.training.trainer import Trainer

    dist = Distributed.from_env(device.type)
    out.mkdir(parents=True, exist_ok=True)
    setup_logging(args.verbose, str(out / "train.log") if dist.is_main else None)
    trainer = Trainer(cfg, out, device, TqdmReporter(dist.is_main), StopFlag(), dist)
    try:
        with logging_redirect_tqdm():  # console log lines print above the progress bar
            summary = trainer.run(resume=args.resume)
    except BaseException:
        dist.close(wait=False)
        raise
    dist.close()
    if dist.is_main:
        log.info("stopped (%s) at step %d, %s min; best dev BLEU %.2f at step %d; model: %s",
                 summary["reason"], summary["step"], summary["elapsed_minutes"],
                 summary["best_bleu"], summary["best_step"], out / "best")
    return 130 if summary["reason"] == "interrupted" else 0
