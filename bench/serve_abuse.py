"""Abuse benchmark for `hanyi serve` (not a test): what a hostile or careless client does.

    python bench/serve_abuse.py --model models/hanyi-en-zh [--seconds 20]

Starts `hanyi serve` on a free loopback port with a rate limit and a short body timeout,
then, while a well-behaved client keeps translating a sentence, runs four attacks one after
the other:

* burst: 200 requests as fast as one connection allows, over a 60/min limit -> 429s with
  Retry-After, never a 5xx;
* oversized: bodies of 1, 20 and 200 MB (declared, or streamed without a length) -> 413;
* slow: clients that send their body one byte every 0.5 s -> 408 after --body-timeout;
* idle: 200 connections opened and left silent, while the good client still gets answers.

Printed per attack: the statuses seen, server errors (5xx or dropped connections), the good
client's p50/p95 latency during the attack, and the server's RSS after each (flat within ±10%
of the start is the bar). Rate limits are per client address, so the good client is given its
own bucket by using a separate API key.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import rss_mib, start_server  # noqa: E402  (bench/ is not a package)

GOOD_KEY, BAD_KEY = "good-client-key-01", "abusive-client-key-02"
BODY = b'{"text": "How are you today?"}'


class GoodClient(threading.Thread):
    """Translates back to back; records latency (and anything that is not a 200)."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.stop, self.lock = port, threading.Event(), threading.Lock()
        self.latencies: list[float] = []
        self.failures: dict[str, int] = {}

    def take(self) -> tuple[list[float], dict[str, int]]:
        with self.lock:
            out = (self.latencies, self.failures)
            self.latencies, self.failures = [], {}
            return out

    def run(self) -> None:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {GOOD_KEY}"}
        while not self.stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/translate", BODY, headers)
                status = conn.getresponse().status
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
            finally:
                conn.close()
            with self.lock:
                if status == 200:
                    self.latencies.append(time.perf_counter() - t0)
                else:
                    self.failures[str(status)] = self.failures.get(str(status), 0) + 1
            time.sleep(0.05)


def post(port: int, body: bytes, headers: dict, length: bool = True) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        if length:
            conn.request("POST", "/api/translate", body, headers)
        else:  # chunked: no Content-Length for the server to refuse early
            conn.request("POST", "/api/translate", iter([body[i:i + 65536] for i in
                                                         range(0, len(body), 65536)]),
                         headers, encode_chunked=True)
        return str(conn.getresponse().status)
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__
    finally:
        conn.close()


def burst(port: int, seconds: float) -> list[str]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {BAD_KEY}"}
    return [post(port, BODY, headers) for _ in range(200)]


def oversized(port: int, seconds: float) -> list[str]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {BAD_KEY}"}
    statuses = []
    for mb in (1, 20, 200):
        body = b'{"text": "' + b"a" * (mb << 20) + b'"}'
        statuses.append(post(port, body, headers))
        statuses.append(post(port, body, headers, length=False))
    return statuses


def slow_client(port: int, results: list[str]) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        sock.sendall(b"POST /api/translate HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nAuthorization: Bearer " + BAD_KEY.encode()
                     + b"\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n")
        try:
            for byte in BODY:
                sock.sendall(bytes([byte]))
                time.sleep(0.5)
        except OSError:
            pass  # the server gave up on us: its answer is waiting to be read
        try:
            reply = sock.recv(200).split(b" ", 2)
            results.append(reply[1].decode() if len(reply) > 1 else "closed, no answer")
        except OSError as exc:
            results.append(f"closed ({type(exc).__name__})")
    finally:
        sock.close()


def slow(port: int, seconds: float) -> list[str]:
    results: list[str] = []
    threads = [threading.Thread(target=slow_client, args=(port, results)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def idle(port: int, seconds: float) -> list[str]:
    sockets = []
    for _ in range(200):
        try:
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        except OSError as exc:
            return [type(exc).__name__]
    time.sleep(seconds)
    closed = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            closed += sock.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        sock.close()
    return [f"{len(sockets)} opened", f"{closed} closed by the server"]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--seconds", type=float, default=20, help="how long idle sockets wait")
    args = parser.parse_args(argv)
    keys = Path(tempfile.mkdtemp()) / "keys.txt"
    keys.write_text(f"{GOOD_KEY} rate=100000/min\n{BAD_KEY}\n", encoding="utf-8")
    proc, url = start_server(args.model, ["--api-keys", str(keys), "--rate-limit", "60/min",
                                          "--body-timeout", "5", "--timeout", "30"])
    port = int(url.rsplit(":", 1)[1])
    good = GoodClient(port)
    good.start()
    time.sleep(3)
    good.take()
    start_rss = rss_mib(proc.pid)
    print(f"server RSS at start: {start_rss:.0f} MiB")
    print("| attack | statuses | server errors | good client p50 / p95 ms | good failures "
          "| RSS MiB |")
    print("|---|---|---|---|---|---|")
    try:
        for name, attack in (("burst", burst), ("oversized", oversized), ("slow", slow),
                             ("idle", idle)):
            statuses = attack(port, args.seconds)
            latencies, failures = good.take()
            counts: dict[str, int] = {}
            for status in statuses:
                counts[status] = counts.get(status, 0) + 1
            # a 5xx is a server error; a connection the server closed on an oversized or
            # stalled upload (BrokenPipeError, ...) is listed among the statuses
            errors = sum(n for s, n in counts.items() if s.startswith("5"))
            print(f"| {name} | {counts} | {errors} | {percentile(latencies, 50):.0f} / "
                  f"{percentile(latencies, 95):.0f} | {failures or 0} | "
                  f"{rss_mib(proc.pid):.0f} |")
    finally:
        good.stop.set()
        proc.terminate()
        proc.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
