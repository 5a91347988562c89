"""A training run directory: where `hanyi train --out RUN` keeps everything, and the
bookkeeping around its checkpoints (the checkpoints themselves: :mod:`hanyi.checkpoint`).

    RUN/config.yaml          the resolved config of the run
    RUN/checkpoints/step_N/  step checkpoints (resumable), the newest few kept
    RUN/LATEST               names the newest complete step checkpoint (``--resume`` reads it)
    RUN/best/                the best model by dev BLEU;  RUN/averaged/: the averaged one
    RUN/history.jsonl        one JSON row per evaluation (one per step, even after a resume)
    RUN/summary.json         why and where the run stopped
    RUN/train.log            the log;  RUN/tensorboard/: the curves

Every write here is atomic (:mod:`hanyi.files`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hanyi.files import TMP_MARK, atomic_write_text, remove_stale_temporaries

STEP_PREFIX = "step_"


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"

    def step_name(self, step: int) -> str:
        """The checkpoint of update ``step``, relative to the run directory."""
        return f"checkpoints/{STEP_PREFIX}{step:08d}"

    def latest(self) -> Path | None:
        """The newest complete step checkpoint, or None for a new run."""
        pointer = self.path / "LATEST"
        if not pointer.is_file():
            return None
        return self.path / pointer.read_text(encoding="utf-8").strip()

    def mark_latest(self, checkpoint: Path) -> None:
        """Point LATEST at ``checkpoint`` (call it after the checkpoint is complete)."""
        atomic_write_text(self.path / "LATEST", f"{checkpoint.relative_to(self.path)}\n")

    def step_checkpoints(self) -> list[Path]:
        """Complete step checkpoints, oldest first."""
        if not self.checkpoints.is_dir():
            return []
        return sorted(p for p in self.checkpoints.iterdir()
                      if p.is_dir() and p.name.startswith(STEP_PREFIX) and TMP_MARK not in p.name)

    def prune(self, keep: int) -> None:
        """Delete all but the newest ``keep`` step checkpoints (never the one LATEST names)."""
        latest = self.latest()
        for old in self.step_checkpoints()[:-max(keep, 1)]:
            if old != latest:
                shutil.rmtree(old, ignore_errors=True)

    def remove_interrupted_writes(self) -> list[Path]:
        """Delete the half-written checkpoints and files a killed run left behind
        (``*.tmp-*``); call it before training starts, when nothing else writes here."""
        return [*remove_stale_temporaries(self.path), *remove_stale_temporaries(self.checkpoints)]

    def append_history(self, record: dict) -> None:
        """Add one evaluation row; a row for the same step (evaluated again after a resume)
        replaces the old one, so every step appears once."""
        rows = [row for row in self.history() if row.get("step") != record["step"]]
        rows.append(record)
        atomic_write_text(self.path / "history.jsonl",
                          "".join(json.dumps(row) + "\n" for row in rows))

    def history(self) -> list[dict]:
        file = self.path / "history.jsonl"
        if not file.is_file():
            return []
        return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()
                if line.strip()]

    def write_json(self, name: str, data: dict) -> None:
        atomic_write_text(self.path / name, json.dumps(data, indent=2) + "\n")
