"""Process-level choices made by the CLI and the server only: device, threads, logging."""

from __future__ import annotations

import logging
import os
import sys

import torch

from hanyi.errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    """"auto" -> cuda:LOCAL_RANK when CUDA is present (torchrun sets LOCAL_RANK), else cpu."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for, but no CUDA GPU is available")
    return device


def set_threads(n: int) -> None:
    if n > 0:
        torch.set_num_threads(n)


def setup_logging(verbose: bool = False, file: str | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if file:
        handlers.append(logging.FileHandler(file, encoding="utf-8"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", handlers=handlers, force=True)
    for noisy in ("urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# glibc reads these at process start. Large thresholds keep freed memory in the heap
# instead of returning it to the OS after every step; the page faults that would follow
# cost about a third of training speed (docs/RESULTS.md, "Training speed": 1,170 -> 1,690
# fp32 target tokens/s with these settings).
MALLOC_TUNING = {"MALLOC_MMAP_THRESHOLD_": "4294967296",
                 "MALLOC_TRIM_THRESHOLD_": "68719476736"}


def reexec_with_malloc_tuning(argv: list[str]) -> None:
    """Restart this process (same pid, same arguments) with MALLOC_TUNING set, once.

    Only on Linux/glibc, and not when the user set HANYI_NO_MALLOC_TUNING=1.
    """
    if not sys.platform.startswith("linux") or os.environ.get("HANYI_NO_MALLOC_TUNING") == "1":
        return
    if all(os.environ.get(k) for k in MALLOC_TUNING):
        return
    env = {**os.environ, **MALLOC_TUNING}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "hanyi", *argv], env)
