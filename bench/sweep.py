"""Recipe exploration at equal training time: one run per variant, scored on the full dev set.

    python bench/sweep.py configs/base.yaml --minutes 20 --preset recipe \
        [--only base,ls-0,...] [--variant NAME=key=value,key=value ...] \
        [--out bench/out/sweep] [--table FILE] [--set key=value ...]

A variant is a name and a list of ``--set`` overrides on top of the config (``base`` = none).
For each variant, one after the other (never in parallel: they would share the CPU and no
longer have equal budgets), this runs

    python -m hanyi train CONFIG --out OUT/NAME --set OVERRIDES... \
        --set train.max_minutes=MINUTES --set train.max_steps=0 --set train.max_epochs=0
    python -m hanyi evaluate --model OUT/NAME/best --src DEV.en --ref DEV.zh --json [--beam 1]

A variant that changes ``tokenizer.*`` or ``data.*`` gets its own prepared directory
(OUT/NAME/data, via `hanyi prepare` with the same overrides): new SentencePiece models, same
dev sentences (the splits depend only on the sources and data.seed). ``train.max_minutes``
counts training time only (evaluation pauses the clock). A run that was interrupted is
resumed (`--resume`); a finished one (summary.json) and its scores (eval.json) are reused,
so a sweep can span several sessions: run the same command again.

What the table can and cannot say: every variant gets the same, *short* budget, so it
ranks recipes by how fast they learn, which is what a fixed 2-hour CPU budget rewards too,
but a variant that is slow to start (a bigger model) may still win with more time.
Updates per minute also vary by ±10% from run to run on a shared machine, so the table
adds one more column: greedy dev BLEU of each run's checkpoint and the first run's (the
reference, ``base`` in the presets) after the same number of updates (the most updates
both have a step checkpoint for) — what a variant learns per update, apart from how fast
it runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

PRESETS: dict[str, dict[str, list[str]]] = {
    # issue "Ship a default model": what the shipped recipe's choices are worth
    "recipe": {
        "base": [],
        "vocab-4k": ["tokenizer.src_vocab_size=4000", "tokenizer.tgt_vocab_size=4000"],
        "vocab-16k": ["tokenizer.src_vocab_size=16000", "tokenizer.tgt_vocab_size=16000"],
        "untied": ["model.tie_target_embeddings=false"],
        "ls-0": ["train.label_smoothing=0.0"],
        "dropout-0.2": ["model.dropout=0.2"],
        "lr-2e-3": ["train.lr=2.0e-3"],
        "fp32": ["train.bf16=false"],
        "layers-6+3": ["model.encoder_layers=6"],
        "d_model-384": ["model.d_model=384", "model.d_ff=1536"],
        "ffn-2048": ["model.d_ff=2048"],
        "heads-8": ["model.n_heads=8"],
        "warmup-500": ["train.warmup_steps=500"],
        "post-norm": ["model.norm_position=post"],
    },
    # issue "efficient attention": the encoder's kernel only (decoder and cross unchanged)
    "kernels": {
        "base": [],
        **{f"enc-{k}": [f"model.encoder_attention={k}"]
           for k in ("local", "bigbird", "linformer", "performer", "linear")},
    },
}


def hanyi(*args: str, capture: bool = False) -> str:
    cmd = [sys.executable, "-m", "hanyi", *args]
    print("$ " + " ".join(cmd), flush=True)
    done = subprocess.run(cmd, check=True, text=True,
                          stdout=subprocess.PIPE if capture else None)
    return done.stdout if capture else ""


def sets(overrides: list[str]) -> list[str]:
    return [a for s in overrides for a in ("--set", s)]


def prepared_dir(config: str, name: str, overrides: list[str], out: Path) -> list[str]:
    """Overrides that point the variant at its own prepared data when it needs one."""
    if not any(o.startswith(("tokenizer.", "data.")) for o in overrides):
        return overrides
    data = out / name / "data"
    overrides = [*overrides, f"data.dir={data}"]
    if not (data / "stats.json").is_file():
        hanyi("prepare", config, *sets(overrides))
    return overrides


def train(config: str, name: str, overrides: list[str], minutes: float, out: Path) -> dict:
    run = out / name
    summary = run / "summary.json"
    finished = summary.is_file() and json.loads(summary.read_text(encoding="utf-8"))["reason"] \
        != "interrupted"
    if not finished:
        budget = [f"train.max_minutes={minutes}", "train.max_steps=0", "train.max_epochs=0"]
        resume = ["--resume"] if (run / "LATEST").exists() else []
        hanyi("train", config, "--out", str(run), *resume, *sets([*overrides, *budget]))
    return json.loads((run / "summary.json").read_text(encoding="utf-8"))


def score(run: Path, data_dir: Path) -> dict:
    """Full-dev BLEU/chrF of the run's best checkpoint, beam (the config's) and greedy."""
    cache = run / "eval.json"
    if cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    scores = {}
    for label, beam in (("beam", []), ("greedy", ["--beam", "1"])):
        line = hanyi("evaluate", "--model", str(run / "best"), "--src", str(data_dir / "dev.en"),
                     "--ref", str(data_dir / "dev.zh"), "--json", *beam,
                     capture=True).strip().splitlines()[-1]
        scores[label] = json.loads(line)
    cache.write_text(json.dumps(scores, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return scores


def step_checkpoints(run: Path) -> list[int]:
    return sorted(int(c.name.split("_")[1]) for c in (run / "checkpoints").glob("step_*"))


def equal_updates(runs: list[Path], slack: float = 0.02) -> tuple[int, dict[Path, int | None]]:
    """The most updates at which *every* run has a step checkpoint (within ``slack``), and
    each run's checkpoint nearest to that count: an equal-updates comparison. Candidates
    are the runs' own checkpoint steps up to the slowest run's last one; (0, all None) if
    no count fits every run."""
    saved = {r: step_checkpoints(r) for r in runs}
    last = min((max(steps, default=0) for steps in saved.values()), default=0)
    for target in sorted({s for steps in saved.values() for s in steps if s <= last},
                         reverse=True):
        chosen = {}
        for r, steps in saved.items():
            near = [s for s in steps if abs(s - target) <= slack * target]
            chosen[r] = min(near, key=lambda s: abs(s - target)) if near else None
        if all(chosen.values()):
            return target, chosen
    return 0, dict.fromkeys(runs)


def score_at(run: Path, data_dir: Path, step: int) -> float:
    """Greedy full-dev BLEU of the run's checkpoint after ``step`` updates (cached)."""
    cache = run / "eval.json"
    scores = json.loads(cache.read_text(encoding="utf-8"))
    key = f"greedy@{step}"
    if key not in scores:
        line = hanyi("evaluate", "--model", str(run / "checkpoints" / f"step_{step:08d}"),
                     "--src", str(data_dir / "dev.en"), "--ref", str(data_dir / "dev.zh"),
                     "--json", "--beam", "1", capture=True).strip().splitlines()[-1]
        scores[key] = json.loads(line)
        cache.write_text(json.dumps(scores, indent=2, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    return scores[key]["bleu"]["score"]


def run_variant(args, name: str, overrides: list[str]) -> dict:
    overrides = prepared_dir(args.config, name, [*args.overrides, *overrides], args.out)
    summary = train(args.config, name, overrides, args.minutes, args.out)
    run = args.out / name
    resolved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    scores = score(run, Path(resolved["data"]["dir"]))
    return {"variant": name, "overrides": overrides, "steps": summary["step"],
            "run": str(run), "data_dir": resolved["data"]["dir"],
            "train_minutes": summary["elapsed_minutes"],
            "target_tokens": summary.get("target_tokens"),
            "dev_bleu_trainer": summary["best_bleu"],
            "beam": scores["beam"]["beam"],
            "dev_bleu_beam": scores["beam"]["bleu"]["score"],
            "dev_chrf_beam": scores["beam"]["chrf"]["score"],
            "dev_bleu_greedy": scores["greedy"]["bleu"]["score"]}


def add_equal_updates(rows: list[dict]) -> None:
    """Score every run against the first (the reference, usually ``base``) at the same
    number of updates: the most updates both have a step checkpoint for. It separates what
    a variant learns per update from how many updates it gets in the time (its speed, and
    machine noise). Pairwise, so one slow run does not pull every comparison down."""
    ref = rows[0] if rows else None
    for r in rows[1:]:
        target, chosen = equal_updates([Path(ref["run"]), Path(r["run"])])
        if not target:
            continue
        r["equal_updates"] = target
        r["equal_updates_steps"] = [chosen[Path(ref["run"])], chosen[Path(r["run"])]]
        r["dev_bleu_greedy_at_equal_updates"] = [
            score_at(Path(x["run"]), Path(x["data_dir"]), step)
            for x, step in zip((ref, r), r["equal_updates_steps"], strict=True)]


def at_equal_updates(row: dict) -> str:
    """'variant vs reference (steps)' for the table: the checkpoints' update counts, the
    variant's first, one number where they are the same."""
    if "equal_updates" not in row:
        return "–"
    (ref_score, own_score) = row["dev_bleu_greedy_at_equal_updates"]
    steps = row["equal_updates_steps"]
    counts = "/".join(f"{s:,}" for s in dict.fromkeys(steps[::-1]))
    return f"{own_score:.2f} vs {ref_score:.2f} ({counts})"


def markdown(rows: list[dict], config: str, minutes: float) -> str:
    ref = rows[0]["variant"] if rows else ""
    lines = [(f"`{config}`, {minutes:g} training minutes per variant; full dev set "
              "(BLEU tok zh, chrF); best checkpoint of each run. Last column: greedy dev "
              f"BLEU of the variant's checkpoint and {ref}'s after the same number of updates "
              "(the most updates both have a checkpoint for; the variant's own count "
              "first where they differ)."), "",
             ("| variant | overrides | updates | target tokens | dev BLEU greedy "
              f"| dev BLEU beam | dev chrF beam | greedy at equal updates: variant vs {ref} |"),
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        changed = ", ".join(f"`{o}`" for o in r["overrides"] if not o.startswith("data.dir="))
        lines.append(f"| {r['variant']} | {changed or '–'} | {r['steps']:,} | "
                     f"{r['target_tokens'] or 0:,} | {r['dev_bleu_greedy']:.2f} | "
                     f"{r['dev_bleu_beam']:.2f} | {r['dev_chrf_beam']:.2f} | "
                     f"{at_equal_updates(r)} |")
    return "\n".join(lines) + "\n"


def variants(args) -> dict[str, list[str]]:
    chosen = dict(PRESETS[args.preset]) if args.preset else {}
    for spec in args.variant:
        name, _, changes = spec.partition("=")
        chosen[name] = [c for c in changes.split(",") if c]
    if args.only:
        names = args.only.split(",")
        unknown = [n for n in names if n not in chosen]
        if unknown:
            sys.exit(f"sweep.py: unknown variant(s) {unknown}; known: {sorted(chosen)}")
        chosen = {n: chosen[n] for n in names}
    if not chosen:
        sys.exit("sweep.py: nothing to run; give --preset or --variant")
    return chosen


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/base.yaml")
    parser.add_argument("--minutes", type=float, required=True, help="training minutes each")
    parser.add_argument("--preset", choices=sorted(PRESETS))
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=key=value,key=value (repeatable)")
    parser.add_argument("--only", help="run only these variants (comma-separated names)")
    parser.add_argument("--out", type=Path, default=Path("bench/out/sweep"))
    parser.add_argument("--table", type=Path, help="write the markdown table here too")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="key.sub=value applied to every variant")
    args = parser.parse_args(argv)
    rows = [run_variant(args, name, changes) for name, changes in variants(args).items()]
    add_equal_updates(rows)
    table = markdown(rows, args.config, args.minutes)
    print("\n" + table)
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(table, encoding="utf-8")
    print(json.dumps(rows, ensure_ascii=False))
    return rows


if __name__ == "__main__":
    main()
