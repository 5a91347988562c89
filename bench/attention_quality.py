"""Quality at equal budget: train one recipe per *encoder* attention kernel for the same
wall time and tabulate dev BLEU.

    python bench/attention_quality.py configs/base.yaml --minutes 120 \
        --kernels sdpa,local,bigbird,linformer,performer,linear [--prepare] \
        [--out bench/out/quality] [--table bench/out/quality/table.md] [--set key=value ...]

For each kernel K this runs, one after the other (never in parallel: they would share
the CPU and no longer have equal budgets)

    python -m hanyi train CONFIG --out OUT/K --set model.encoder_attention=K \
        --set train.max_minutes=MINUTES --set train.max_steps=0 --set train.max_epochs=0

The decoder and cross-attention keep the config's kernel (`sdpa` by default), so only
the encoder differs. ``train.max_minutes`` counts training time only (evaluation pauses
the clock), and the trainer evaluates once more when it stops, so every run reports a
dev BLEU (greedy, ``train.dev_bleu_sentences`` sentences) for its best checkpoint. The
table is read from each run's summary.json and best/meta.json. --prepare runs
`hanyi prepare CONFIG` once first (the data do not depend on the kernel). An existing
OUT/K/summary.json is reused, not retrained (delete it to retrain).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

DEFAULT_KERNELS = "sdpa,local,bigbird,linformer,performer,linear"


def hanyi(*args: str) -> None:
    cmd = [sys.executable, "-m", "hanyi", *args]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def train(config: str, kernel: str, minutes: float, out: Path, overrides: list[str]) -> dict:
    run = out / kernel
    if not (run / "summary.json").is_file():
        sets = [f"model.encoder_attention={kernel}", f"train.max_minutes={minutes}",
                "train.max_steps=0", "train.max_epochs=0", *overrides]
        hanyi("train", config, "--out", str(run), *[a for s in sets for a in ("--set", s)])
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    best = run / "best" / "meta.json"
    meta = json.loads(best.read_text(encoding="utf-8")) if best.is_file() else {}
    return {"kernel": kernel, "steps": summary["step"],
            "train_minutes": summary["elapsed_minutes"],
            "target_tokens": summary.get("target_tokens"),
            "dev_bleu": meta.get("dev_bleu", summary["best_bleu"]),
            "best_step": meta.get("step", summary["best_step"])}


def markdown(rows: list[dict], config: str, minutes: float) -> str:
    lines = [(f"Encoder attention kernel vs dev BLEU, `{config}`, {minutes:g} training "
              "minutes each (decoder and cross-attention unchanged)."), "",
             "| encoder kernel | steps | training minutes | target tokens | dev BLEU (best) |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['kernel']} | {r['steps']} | {r['train_minutes']} | "
                     f"{r['target_tokens']} | {r['dev_bleu']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/base.yaml")
    parser.add_argument("--kernels", default=DEFAULT_KERNELS)
    parser.add_argument("--minutes", type=float, required=True, help="training minutes per kernel")
    parser.add_argument("--out", type=Path, default=Path("bench/out/quality"))
    parser.add_argument("--table", type=Path, default=None, help="write the table here too")
    parser.add_argument("--prepare", action="store_true", help="run `hanyi prepare` first")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra key.sub=value overrides for prepare and train")
    args = parser.parse_args()
    if args.prepare:
        hanyi("prepare", args.config, *[a for s in args.overrides for a in ("--set", s)])
    rows = [train(args.config, k, args.minutes, args.out, args.overrides)
            for k in args.kernels.split(",")]
    table = markdown(rows, args.config, args.minutes)
    print("\n" + table)
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(table, encoding="utf-8")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
