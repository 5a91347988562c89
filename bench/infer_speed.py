"""Inference speed and quality of each engine on this machine: a benchmark, never a test.

    python bench/infer_speed.py --model MODEL_DIR --src test.en --ref test.zh \
        [--sentences 800] [--batch1-sentences 100] [--threads 2] [--work DIR]

Engines: torch fp32, torch int8 (dynamic quantization), ct2 float32, ct2 int8 and ct2 auto
(`hanyi export --quantization auto`). Each engine runs in its own process (so peak RSS is
its own) and reports, for batch 1 and 32 x beam 1 and 4: sentences/s and target tokens/s
(EOS not counted) over the first --sentences lines (batch 1: the first --batch1-sentences,
to keep the run short); the p50/p95 latency of translating one short sentence (<= 12
words) alone, greedy and beam 4; peak RSS; the model's size on disk (torch int8: its
serialized state dict); and BLEU (sacreBLEU, tok zh) of the batch-32 outputs.
The machine is noisy: compare engines within one run, and say how loaded it was.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = ("torch-fp32", "torch-int8", "ct2-float32", "ct2-int8", "ct2-auto")
SHORT_SENTENCE = "I would like a cup of tea, please."  # 8 words
LATENCY_RUNS = 30


def read_lines(path: str, n: int) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()[:n]


def disk_size(engine: str, path: Path, translator) -> int:
    if engine == "torch-int8":
        import torch

        buffer = io.BytesIO()
        torch.save(translator.engine.model.state_dict(), buffer)
        return buffer.tell()
    name = "model.safetensors" if engine.startswith("torch") else "model.bin"
    return (path / name).stat().st_size


def load(engine: str, model: Path, work: Path, threads: int):
    from hanyi.inference import Translator

    if engine.startswith("torch"):
        quantize = "int8" if engine == "torch-int8" else "none"
        return Translator.load(model, quantize=quantize, engine="torch"), model
    out = work / engine
    if not (out / "hanyi_export.json").is_file():
        from hanyi.checkpoint import load_model_dir
        from hanyi.export import export_ctranslate2

        export_ctranslate2(load_model_dir(model), out, engine.split("-")[1], threads=threads)
    return Translator.load(out, threads=threads), out


def throughput(translator, lines: list[str], batch: int, beam: int) -> dict:
    cfg = translator.with_options(beam_size=beam, nbest=1, batch_size=batch)
    translator.translate(lines[:batch], cfg)  # warm-up
    start = time.perf_counter()
    out = translator.translate(lines, cfg)
    seconds = time.perf_counter() - start
    tokens = sum(len(t.tgt_tokens) - 1 for t in out)  # without </s>
    return {"sent_s": len(lines) / seconds, "tok_s": tokens / seconds,
            "texts": [t.text for t in out]}


def latency(translator, beam: int) -> dict:
    cfg = translator.with_options(beam_size=beam, nbest=1, batch_size=1)
    times = []
    for i in range(LATENCY_RUNS + 3):
        start = time.perf_counter()
        translator.translate([SHORT_SENTENCE], cfg)
        if i >= 3:  # warm-up
            times.append(1000 * (time.perf_counter() - start))
    q = statistics.quantiles(times, n=20)
    return {"p50_ms": statistics.median(times), "p95_ms": q[18]}


def worker(args) -> None:
    from hanyi.metrics import bleu
    from hanyi.runtime import set_threads

    set_threads(args.threads)
    translator, path = load(args.worker, Path(args.model), Path(args.work), args.threads)
    src = read_lines(args.src, args.sentences)
    ref = read_lines(args.ref, args.sentences)
    result = {"engine": args.worker, "name": translator.engine_name, "runs": {}}
    for beam in (1, 4):
        for batch in (1, 32):
            lines = src[:args.batch1_sentences] if batch == 1 else src
            run = throughput(translator, lines, batch, beam)
            if batch == 32:
                result[f"bleu_beam{beam}"] = bleu(run["texts"], ref).score
            del run["texts"]
            result["runs"][f"b{batch}_k{beam}"] = run
        result[f"latency_k{beam}"] = latency(translator, beam)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["disk_mb"] = disk_size(args.worker, path, translator) / 2**20
    print(json.dumps(result))


def table(results: list[dict]) -> str:
    head = ("| engine | batch | beam | sent/s | tgt tok/s | p50 / p95 ms (1 short sentence) "
            "| peak RSS MB | disk MB | BLEU |\n|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for r in results:
        for key, run in r["runs"].items():
            batch, beam = key[1:].split("_k")
            lat = (f"{r[f'latency_k{beam}']['p50_ms']:.0f} / {r[f'latency_k{beam}']['p95_ms']:.0f}"
                   if batch == "1" else "")
            rows.append(f"| {r['engine']} ({r['name']}) | {batch} | {beam} | {run['sent_s']:.1f} "
                        f"| {run['tok_s']:.0f} | {lat} | {r['rss_mb']:.0f} | {r['disk_mb']:.1f} "
                        f"| {r[f'bleu_beam{beam}']:.2f} |")
    return "\n".join(rows)


def targets(results: list[dict]) -> str:
    by = {r["engine"]: r for r in results}
    torch_, auto = by.get("torch-fp32"), by.get("ct2-auto")
    lines = []
    if torch_ and auto:
        speedup = auto["runs"]["b32_k4"]["sent_s"] / torch_["runs"]["b32_k4"]["sent_s"]
        loss = torch_["bleu_beam4"] - auto["bleu_beam4"]
        lines.append(f"ct2-auto vs torch-fp32, file at batch 32 beam 4: {speedup:.2f}x faster "
                     f"(target >= 1.5x), BLEU loss {loss:.2f} (target <= 0.5)")
        lines.append(f"ct2-auto one short sentence p50: greedy {auto['latency_k1']['p50_ms']:.0f} "
                     f"ms (target <= 30), beam 4 {auto['latency_k4']['p50_ms']:.0f} ms (<= 60)")
    if torch_:
        lines.append(f"torch-fp32 one short sentence p50 greedy: "
                     f"{torch_['latency_k1']['p50_ms']:.0f} ms (target <= 80)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="PyTorch model directory")
    parser.add_argument("--src", required=True)
    parser.add_argument("--ref", required=True)
    parser.add_argument("--sentences", type=int, default=800)
    parser.add_argument("--batch1-sentences", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--work", help="where exports go (default: a temporary directory)")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    with tempfile.TemporaryDirectory(prefix="hanyi-bench-") as tmp:
        work = args.work or tmp
        results = []
        for engine in args.engines.split(","):
            cmd = [sys.executable, __file__, "--worker", engine, "--work", work,
                   *[f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                     if k in ("model", "src", "ref", "sentences", "batch1_sentences", "threads")]]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                sys.exit(f"{engine} failed:\n{out.stderr}")
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"done: {engine}", file=sys.stderr)
    print(table(results))
    print()
    print(targets(results))


if __name__ == "__main__":
    main()
