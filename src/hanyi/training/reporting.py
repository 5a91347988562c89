"""How a trainer reports its progress: the protocol the CLI's tqdm bar implements, and the
silent reporter for library use and tests (messages still go to the log)."""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("hanyi.training.trainer")  # the trainer's messages, under its name


class Reporter(Protocol):
    """How the driver reports progress; the CLI implements it with tqdm."""

    def start(self, total: int | None, initial: int) -> None: ...
    def update(self, step: int, metrics: dict) -> None: ...
    def message(self, text: str) -> None: ...
    def close(self) -> None: ...


class SilentReporter:
    def start(self, total, initial): pass
    def update(self, step, metrics): pass
    def message(self, text): log.info("%s", text)
    def close(self): pass
