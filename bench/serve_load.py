"""Load benchmark for `hanyi serve` (not a test): N clients, bounded time, loopback only.

    python bench/serve_load.py --model runs/tiny/best --clients 32 --duration 60
    python bench/serve_load.py --model runs/tiny/best --serve-arg=--max-batch=1   # no batching
    python bench/serve_load.py --url http://127.0.0.1:8000 --pid 1234             # a running one

With --model it starts `python -m hanyi serve` on a free 127.0.0.1 port as a child process
(extra flags via --serve-arg) and stops it at the end. Each client thread keeps one HTTP
connection and posts the same short sentence back to back until the time (or the request
budget) runs out. Printed: requests/s, latency p50/p95/p99, errors by status, the mean
batch size the server reached, and the server's RSS after warm-up and at the end.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--model", help="model dir: start a server on a free loopback port")
    where.add_argument("--url", help="a running server (loopback only); give --pid for RSS")
    p.add_argument("--pid", type=int, help="server pid (with --url) for RSS readings")
    p.add_argument("--serve-arg", action="append", default=[], help="extra `hanyi serve` flag")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (max 600)")
    p.add_argument("--max-requests", type=int, default=200_000, help="stop after this many")
    p.add_argument("--warmup", type=int, default=5, help="requests before measuring")
    p.add_argument("--text", default="How are you today?")
    p.add_argument("--beam", type=int, default=None, help="beam per request (server default)")
    args = p.parse_args(argv)
    if not 0 < args.duration <= 600 or args.clients < 1:
        p.error("--duration must be in (0, 600] and --clients >= 1")
    return args


def rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "hanyi", "serve", "--model", model, "--host", "127.0.0.1",
           "--port", str(port), "--no-access-log", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            get_json(url, "/api/health")
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start within 120 s")


def get_json(url: str, path: str) -> dict:
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


class Load:
    """Client threads posting one body until ``stop_at``; latencies and errors per thread."""

    def __init__(self, url: str, body: bytes, stop_at: float, budget: int):
        self.url, self.body, self.stop_at = urlparse(url), body, stop_at
        self.budget, self.lock = budget, threading.Lock()
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}

    def take(self) -> bool:
        with self.lock:
            self.budget -= 1
            return self.budget >= 0 and time.monotonic() < self.stop_at

    def client(self) -> None:
        conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=120)
        headers = {"Content-Type": "application/json"}
        while self.take():
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/translate", self.body, headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=120)
            elapsed = time.perf_counter() - t0
            with self.lock:
                if status == 200:
                    self.latencies.append(elapsed)
                else:
                    self.errors[str(status)] = self.errors.get(str(status), 0) + 1
        conn.close()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 \
        else (values[0] if values else float("nan"))


def sample_rss_while(threads: list[threading.Thread], pid: int | None) -> list[float]:
    """Server RSS every 5 s until the clients finish: flat after warm-up, or growing?"""
    samples, next_at = [], time.monotonic() + 5
    while any(thread.is_alive() for thread in threads):
        time.sleep(0.2)
        if pid is not None and time.monotonic() >= next_at:
            samples.append(round(rss_mib(pid), 1))
            next_at += 5
    for thread in threads:
        thread.join()
    return samples


def run_load(url: str, args, pid: int | None) -> dict:
    body = json.dumps({"text": args.text, **({"beam": args.beam} if args.beam else {})})
    warm = Load(url, body.encode(), time.monotonic() + 120, args.warmup)
    warm.client()
    before = get_json(url, "/api/health")["queue"]
    rss_before = rss_mib(pid)
    load = Load(url, body.encode(), time.monotonic() + args.duration, args.max_requests)
    threads = [threading.Thread(target=load.client) for _ in range(args.clients)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    samples = sample_rss_while(threads, pid)
    wall = time.perf_counter() - t0
    after = get_json(url, "/api/health")["queue"]
    lat = sorted(load.latencies)
    batches = max(1, after["batches"] - before["batches"])
    return {"clients": args.clients, "duration_s": round(wall, 1), "requests": len(lat),
            "requests_per_s": round(len(lat) / wall, 2),
            "p50_ms": round(percentile(lat, 50) * 1000, 1),
            "p95_ms": round(percentile(lat, 95) * 1000, 1),
            "p99_ms": round(percentile(lat, 99) * 1000, 1),
            "errors": sum(load.errors.values()), "errors_by_status": load.errors,
            "mean_batch": round((after["texts"] - before["texts"]) / batches, 2),
            "rss_before_mib": rss_before, "rss_after_mib": rss_mib(pid),
            "rss_every_5s_mib": samples}


def main(argv=None) -> int:
    args = parse_args(argv)
    proc, pid = None, args.pid
    if args.model:
        proc, url = start_server(args.model, args.serve_arg)
        pid = proc.pid
    else:
        url = args.url
        if not is_loopback(urlparse(url).hostname or ""):
            raise SystemExit("--url must be a loopback address (127.0.0.1, ::1, localhost)")
    try:
        result = run_load(url, args, pid)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    if result["rss_before_mib"] and result["rss_after_mib"]:
        growth = 100 * (result["rss_after_mib"] / result["rss_before_mib"] - 1)
        result["rss_growth_pct"] = round(growth, 2)
    for key in ("rss_before_mib", "rss_after_mib"):
        if result[key] is not None:
            result[key] = round(result[key], 1)
    result.update(text=args.text, serve_args=args.serve_arg)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
