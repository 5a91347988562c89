"""Multi-process training with torchrun (gloo on CPU).

These launch real `torchrun --standalone --nproc_per_node=2 -m hanyi train` processes on the
tiny prepared data, with a very small model so that they take seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--set", "model.d_model=32", "--set", "model.n_heads=2", "--set", "model.d_ff=64",
         "--set", "model.encoder_layers=1", "--set", "model.decoder_layers=1",
         "--set", "train.dev_bleu_sentences=20", "--set", "train.average_last=0",
         "--set", "train.num_threads=1", "--set", "train.max_tokens=512"]

pytestmark = pytest.mark.slow


def env() -> dict:
    return {**os.environ, "HANYI_NO_MALLOC_TUNING": "1", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}


def torchrun(nproc: int, out: Path, data: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "-m", "hanyi", "train", str(REPO / "configs/tiny.yaml"),
            "--out", str(out), "--device", "cpu", "--set", f"data.dir={data}", *SMALL, *extra]


def run_ok(cmd: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return proc


def children(pid: int) -> list[int]:
    """Direct child processes (torchrun's workers run in sessions of their own)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def weights(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / f"step_{step:08d}" / "model.safetensors"))


def test_two_process_run_completes_and_writes_a_checkpoint(tiny_run, tmp_path):
    out = tmp_path / "ddp"
    run_ok(torchrun(2, out, tiny_run / "data", "--set", "train.max_steps=6",
                    "--set", "train.eval_every=3", "--set", "train.save_every=3"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 6 and summary["reason"] == "max_steps"
    assert (out / "LATEST").read_text().strip() == "checkpoints/step_00000006"
    assert (out / "best" / "model.safetensors").is_file()
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [3, 6]  # written once (rank 0), not twice


def test_two_processes_train_from_shards_binarised_once_by_rank_0(tiny_run, tmp_path):
    """A folder prepared before token shards existed: rank 0 binarises it while rank 1
    waits at a barrier; both then read the same memory-mapped shards."""
    data = tmp_path / "data"
    shutil.copytree(tiny_run / "data", data, ignore=shutil.ignore_patterns("shards"))
    assert not (data / "shards").exists()
    run_ok(torchrun(2, tmp_path / "ddp", data, "--set", "train.max_steps=2",
                    "--set", "train.eval_every=2", "--set", "train.save_every=2"))
    meta = json.loads((data / "shards" / "meta.json").read_text())
    assert meta["splits"]["train"]["pairs"] == (data / "train.en").read_text().count("\n")
    assert not [p for p in data.iterdir() if ".tmp-" in p.name]  # no half-written folder


def test_two_processes_equal_one_process_with_double_accumulation(tiny_run, tmp_path):
    """DDP averages gradients over ranks exactly like accumulating the same batches."""
    same = ["--set", "train.max_steps=4", "--set", "train.save_every=4",
            "--set", "train.eval_every=1000", "--set", "model.dropout=0.0",
            "--set", "train.clip_norm=0"]
    run_ok(torchrun(2, tmp_path / "two", tiny_run / "data", *same))
    run_ok(torchrun(1, tmp_path / "one", tiny_run / "data", *same,
                    "--set", "train.accumulate=2"))
    two, one = weights(tmp_path / "two", 4), weights(tmp_path / "one", 4)
    assert two.keys() == one.keys()
    for name in two:
        torch.testing.assert_close(two[name], one[name], atol=2e-5, rtol=1e-4, msg=name)


def test_killed_two_process_run_resumes(tiny_run, tmp_path):
    out = tmp_path / "killed"
    cmd = torchrun(2, out, tiny_run / "data", "--set", "train.max_steps=400",
                   "--set", "train.save_every=2", "--set", "train.eval_every=1000")
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not (out / "LATEST").exists() and time.time() < deadline:
            time.sleep(0.5)
        assert (out / "LATEST").exists(), "no checkpoint before the deadline"
    finally:  # a hard kill of both workers, then of the launcher
        for child in children(proc.pid):
            os.kill(child, signal.SIGKILL)
        proc.kill()
        proc.wait()
    saved = int((out / "LATEST").read_text().strip().rsplit("_", 1)[1])
    assert saved < 400
    resumed = run_ok(torchrun(2, out, tiny_run / "data", "--resume",
                              "--set", f"train.max_steps={saved + 2}",
                              "--set", "train.save_every=2", "--set", "train.eval_every=1000"))
    assert f"at step {saved}" in resumed.stdout + resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == saved + 2
