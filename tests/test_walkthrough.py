"""The walkthrough (docs/walkthrough.py) runs, as a plain script, from start to end.

It imports the real package and asserts its own numbers (Eq. 1 by hand, the paper's
learning-rate formula, label smoothing by hand), so a change that breaks what it teaches
fails here, the way the harvardnlp Annotated Transformer's notebook never could. About
half a minute on one CPU core; its figures go to a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import REPO

WALKTHROUGH = REPO / "docs" / "walkthrough.py"


def test_walkthrough_runs_and_draws_every_figure(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "HANYI_WALKTHROUGH_OUT": str(tmp_path / "fig"),
           "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("HANYI_MODEL", None)
    proc = subprocess.run([sys.executable, str(WALKTHROUGH)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    figures = {p.name for p in (tmp_path / "fig").iterdir()}
    assert figures == {"positional_encoding.png", "masks.png", "learning_rate.png",
                       "copy_task_loss.png", "cross_attention.png"}
    assert "copied exactly" in proc.stdout and "curves identical" in proc.stdout
