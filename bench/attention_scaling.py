"""Attention scaling: forward+backward time and peak memory of ONE attention layer vs length.

    python bench/attention_scaling.py \
        --kernels reference,sdpa,local,bigbird,linformer,performer,linear \
        --lengths 128,256,512,1024,2048,4096,8192,16384 [--json] [--plot docs/attention_scaling.png]

The layer is hanyi's ``MultiHeadAttention`` (fused QKV projection, kernel, output
projection) as encoder self-attention: d_model 256, 4 heads, batch 1, float32, on CPU,
with each kernel's default settings from ``ModelConfig`` (window 64, block 32, 1 global
+ 1 random block, 64 features, rank 64). Each (kernel, length) runs in a fresh
subprocess, so its peak memory is its own: peak RSS (``ru_maxrss``) during one warm-up
and the timed repeats, minus the RSS just before them (inputs and weights included in
the baseline). Time is the median fwd+bwd over the timed repeats (after one warm-up run;
at least --repeats runs, more for fast lengths, one if the warm-up took over 20 s).

This is a benchmark, not a test: on a busy machine the times are noisy (compare ratios
within one run). `reference` builds the full T×T matrix (several GB at 16,384 tokens):
lengths above --max-reference-length are skipped with a note. Prints a table and the
crossover length of each kernel (first length from which it stays faster than
`reference`); with --json the last line is one JSON list of
{"kernel", "length", "fwd_bwd_ms", "peak_mem_mb"}.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_KERNELS = "reference,sdpa,local,bigbird,linformer,performer,linear"
DEFAULT_LENGTHS = "128,256,512,1024,2048,4096,8192,16384"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def measure(kernel_name: str, length: int, repeats: int, threads: int) -> dict:
    """Runs inside the worker subprocess: one layer, one length."""
    import torch

    from hanyi.config import ModelConfig
    from hanyi.model.attention import MultiHeadAttention, build_kernel
    from hanyi.model.masks import AttentionMask

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = ModelConfig(d_model=256, n_heads=4, attention=kernel_name,
                      max_positions=max(length, 1024))
    layer = MultiHeadAttention(256, 4, build_kernel(cfg, "encoder"))
    x = torch.randn(1, length, 256, requires_grad=True)  # (B, T, D)
    mask = AttentionMask(key_padding=torch.ones(1, length, dtype=torch.bool))
    base = rss_mb()
    times = []
    # The first run is a warm-up; then `repeats` runs, more for fast lengths (up to 1 s
    # of timed work or 25 runs); a very slow first run leaves only one timed run.
    while len(times) < 2 or (len(times) <= repeats and times[0] < 20) or (
            sum(times[1:]) < 1.0 and len(times) <= 25):
        start = time.perf_counter()
        out = layer(x, mask).out
        out.sum().backward()
        layer.zero_grad(set_to_none=True)
        x.grad = None
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB -> MB (Linux)
    return {"kernel": kernel_name, "length": length,
            "fwd_bwd_ms": round(statistics.median(times[1:]) * 1000, 2),
            "peak_mem_mb": round(max(peak - base, 0.0), 1)}


def run_worker(kernel: str, length: int, args) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", kernel, str(length),
           "--repeats", str(args.repeats), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                          check=False)
    if proc.returncode != 0:
        print(f"  {kernel} @ {length}: failed ({proc.stderr.strip().splitlines()[-1:]})",
              file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def crossovers(results: list[dict]) -> dict[str, int | None]:
    """Per kernel: the first length from which it is faster than `reference` at every
    length where both were measured (None if never)."""
    ref = {r["length"]: r["fwd_bwd_ms"] for r in results if r["kernel"] == "reference"}
    out = {}
    for kernel in dict.fromkeys(r["kernel"] for r in results if r["kernel"] != "reference"):
        rows = sorted((r["length"], r["fwd_bwd_ms"] < ref[r["length"]])
                      for r in results if r["kernel"] == kernel and r["length"] in ref)
        out[kernel] = None
        for i, (length, _) in enumerate(rows):
            if all(faster for _, faster in rows[i:]):
                out[kernel] = length
                break
    return out


def table(results: list[dict], key: str) -> str:
    kernels = list(dict.fromkeys(r["kernel"] for r in results))
    lengths = sorted({r["length"] for r in results})
    cell = {(r["kernel"], r["length"]): r[key] for r in results}
    lines = ["| kernel | " + " | ".join(str(n) for n in lengths) + " |",
             "|---|" + "---:|" * len(lengths)]
    for k in kernels:
        values = [f"{cell[k, n]:g}" if (k, n) in cell else "—" for n in lengths]
        lines.append(f"| {k} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for kernel in dict.fromkeys(r["kernel"] for r in results):
        rows = sorted((r["length"], r["fwd_bwd_ms"], r["peak_mem_mb"])
                      for r in results if r["kernel"] == kernel)
        style = "--" if kernel in ("reference", "sdpa") else "-"
        for ax, col in zip(axes, (1, 2), strict=True):
            ax.plot([r[0] for r in rows], [max(r[col], 0.1) for r in rows], style,
                    marker="o", ms=3, label=kernel)
    for ax, label in zip(axes, ("forward + backward time (ms)", "peak memory (MB)"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (tokens)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("one attention layer, d_model 256, 4 heads, batch 1, CPU")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", default=DEFAULT_KERNELS)
    parser.add_argument("--lengths", default=DEFAULT_LENGTHS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-reference-length", type=int, default=8192)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per measurement")
    parser.add_argument("--plot", type=Path, default=Path("bench/out/attention_scaling.png"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("KERNEL", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker[0], int(args.worker[1]), args.repeats,
                                 args.threads)))
        return
    lengths = [int(n) for n in args.lengths.split(",")]
    results = []
    for kernel in args.kernels.split(","):
        for length in lengths:
            if kernel == "reference" and length > args.max_reference_length:
                print(f"  reference @ {length}: skipped (T×T scores would need several GB; "
                      f"raise --max-reference-length to run it)")
                continue
            row = run_worker(kernel, length, args)
            if row:
                results.append(row)
                print(f"  {kernel:10s} {length:6d}  {row['fwd_bwd_ms']:10.1f} ms "
                      f"{row['peak_mem_mb']:9.1f} MB", flush=True)
    print("\nforward+backward time (ms)\n" + table(results, "fwd_bwd_ms"))
    print("\npeak memory (MB)\n" + table(results, "peak_mem_mb"))
    if any(r["kernel"] == "reference" for r in results):
        print("\nfaster than reference from length: " + ", ".join(
            f"{k} {v if v else 'never'}" for k, v in crossovers(results).items()))
    plot(results, args.plot)
    print(f"\nplot: {args.plot}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
