"""Plain helpers shared by test modules (fixtures live in conftest.py).

Kept out of conftest.py because tests/serve has a conftest.py of its own, and two
modules named ``conftest`` cannot both be imported by name.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HANYI_SHARED_DATA", REPO.parent / "shared" / "data"))


def synthetic_sentences(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Made-up English/Chinese sentence pairs (our own fixture, not from ../shared/data)."""
    rng = random.Random(seed)
    who = [("I", "我"), ("you", "你"), ("Tom", "汤姆"), ("we", "我们"), ("Mary", "玛丽")]
    what = [("like tea", "喜欢茶"), ("see a cat", "看见一只猫"), ("want rice", "想要米饭"),
            ("read books", "读书"), ("love music", "爱音乐"), ("drink water", "喝水")]
    en, zh = [], []
    for _ in range(n):
        (e1, z1), (e2, z2) = rng.choice(who), rng.choice(what)
        en.append(f"{e1} {e2}.")
        zh.append(f"{z1}{z2}。")
    return en, zh


def hanyi(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m hanyi ARGS`` in a subprocess on this worktree's code."""
    env = {**os.environ, "HANYI_NO_MALLOC_TUNING": "1",
           "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "hanyi", *args], input=stdin,
                          capture_output=True, env=env, timeout=300)


def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit status 2, exactly one ``hanyi: error:`` line holding every fragment, no traceback."""
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("hanyi: error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]
