"""Who may call the API, and how often: API keys and per-client rate limits.

Keys (``hanyi serve --api-keys FILE`` or ``$HANYI_API_KEYS_FILE``): one key per line,
``#`` starts a comment, and a key may carry its own limits::

    # team laptops
    k3y-for-alice                     # the server's --rate-limit / --char-limit apply
    k3y-for-the-wiki  rate=600/min chars=200000/min

A request shows its key as ``Authorization: Bearer KEY``, or as ``api_key`` in the query
string or the JSON body (what LibreTranslate clients send). No key: 401; an unknown key: 403.
Keys are compared in constant time (``hmac.compare_digest``, against every key, so the time
does not tell how many characters matched) and never logged: the access log's query strings
are redacted (:class:`RedactKeys`).

Limits (``--rate-limit 60/min``, ``--char-limit 20000/min``) are token buckets (Turner 1986;
what nginx's ``limit_req`` does): a bucket holds up to N tokens and refills at N per period;
a request takes one request token and one character token per character of its texts. When
a bucket is short the answer is 429 with ``Retry-After``: the seconds until it has refilled
enough. Buckets are per key, or per client IP address without keys.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from hanyi.config import Rate, ServeConfig
from hanyi.errors import ConfigError


@dataclass(frozen=True)
class KeyLimits:
    rate: Rate | None = None  # None: the server's --rate-limit
    chars: Rate | None = None  # None: the server's --char-limit


def load_api_keys(path: str | Path) -> dict[str, KeyLimits]:
    """The keys file -> {key: its limits}. Errors name file:line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"API keys file not found: {path}")
    keys: dict[str, KeyLimits] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        where = f"{path}:{number}"
        key, options = fields[0], dict(_option(f, where) for f in fields[1:])
        if len(key) < 8:
            raise ConfigError(f"{where}: an API key needs at least 8 characters")
        if key in keys:
            raise ConfigError(f"{where}: this key is listed twice")
        unknown = set(options) - {"rate", "chars"}
        if unknown:
            raise ConfigError(f"{where}: unknown option {sorted(unknown)[0]!r} "
                              f"(known: rate=N/min, chars=N/min)")
        keys[key] = KeyLimits(*(Rate.parse(options[k], where) if k in options else None
                                for k in ("rate", "chars")))
    if not keys:
        raise ConfigError(f"{path} holds no API keys")
    return keys


def _option(text: str, where: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not value:
        raise ConfigError(f"{where}: expected name=value after the key, got {text!r}")
    return name, value


def find_key(given: str, keys: dict[str, KeyLimits]) -> str | None:
    """The listed key equal to ``given``, compared in constant time with every key."""
    found = None
    for key in keys:
        if hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8")):
            found = key
    return found


class TokenBucket:
    """Up to ``rate.count`` tokens, refilled continuously at ``rate.count`` per period."""

    def __init__(self, rate: Rate, clock=time.monotonic):
        self.capacity, self.per_s = float(rate.count), rate.count / rate.period_s
        self.tokens, self.clock = self.capacity, clock
        self.updated = clock()

    def take(self, amount: float) -> float:
        """Take ``amount`` tokens; returns 0.0, or the seconds to wait if there are too few
        (then nothing is taken). More than the capacity can never be taken."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_s)
        self.updated = now
        if amount <= self.tokens:
            self.tokens -= amount
            return 0.0
        if amount > self.capacity:
            return float("inf")
        return (amount - self.tokens) / self.per_s


class RateLimiter:
    """Buckets per client (a key, or an IP address), created on first use."""

    MAX_CLIENTS = 100_000  # IP buckets are dropped beyond this (oldest first)

    def __init__(self, rate: Rate | None, chars: Rate | None,
                 per_key: dict[str, KeyLimits] | None = None, clock=time.monotonic):
        self.rate, self.chars, self.per_key = rate, chars, per_key or {}
        self.clock = clock
        self._buckets: dict[str, tuple[TokenBucket | None, TokenBucket | None]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.rate or self.chars
                    or any(k.rate or k.chars for k in self.per_key.values()))

    def _pair(self, client: str) -> tuple[TokenBucket | None, TokenBucket | None]:
        pair = self._buckets.get(client)
        if pair is None:
            limits = self.per_key.get(client, KeyLimits())
            rate, chars = limits.rate or self.rate, limits.chars or self.chars
            pair = (TokenBucket(rate, self.clock) if rate else None,
                    TokenBucket(chars, self.clock) if chars else None)
            if len(self._buckets) >= self.MAX_CLIENTS:
                self._buckets.pop(next(iter(self._buckets)))
            self._buckets[client] = pair
        return pair

    def check(self, client: str, characters: int) -> float:
        """0.0 if ``client`` may make a request of ``characters`` now (and it is counted),
        else the seconds until it may (and nothing is counted)."""
        with self._lock:
            requests, chars = self._pair(client)
            wait = requests.take(1) if requests else 0.0
            if wait:
                return wait
            char_wait = chars.take(characters) if chars else 0.0
            if char_wait and requests:  # give the request token back
                requests.tokens = min(requests.capacity, requests.tokens + 1)
            return char_wait


class RedactKeys(logging.Filter):
    """Hide ``api_key=...`` in log records (uvicorn's access log prints query strings)."""

    PATTERN = re.compile(r"(api_key=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(self.PATTERN.sub(r"\1[redacted]", a) if isinstance(a, str)
                                else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.PATTERN.sub(r"\1[redacted]", record.msg)
        return True


KEYS_ENV = "HANYI_API_KEYS_FILE"  # the keys file, when --api-keys is not given


class AccessError(Exception):
    """401, 403 or 429: turned into a JSON error answer by the app."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class Gate:
    """API keys and rate limits (serving/access.py) for the translate endpoints."""

    def __init__(self, keys: dict[str, KeyLimits] | None, limiter: RateLimiter):
        self.keys, self.limiter = keys, limiter

    @classmethod
    def from_config(cls, cfg: ServeConfig) -> Gate:
        keys_file = cfg.api_keys_file or os.environ.get(KEYS_ENV)
        keys = load_api_keys(keys_file) if keys_file else None
        rate, chars = cfg.rates
        return cls(keys, RateLimiter(rate, chars, keys))

    @staticmethod
    def presented(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.query_params.get("api_key")

    def check_header(self, request: Request) -> None:
        given = self.presented(request)
        if self.keys is not None and given is not None and find_key(given, self.keys) is None:
            raise AccessError(403, "this API key is not valid")

    def admit(self, request: Request, body_key: str | None, characters: int) -> None:
        """401/403 without a valid key (when keys are on), 429 over the client's limits."""
        client = request.client.host if request.client else "unknown"
        if self.keys is not None:
            given = self.presented(request) or body_key
            if not given:
                raise AccessError(401, "this server needs an API key: send Authorization: "
                                    "Bearer KEY (or api_key in the body or query)",
                               headers={"WWW-Authenticate": "Bearer"})
            client = find_key(given, self.keys)
            if client is None:
                raise AccessError(403, "this API key is not valid")
        if self.limiter.enabled:
            wait = self.limiter.check(client, characters)
            if wait:
                retry = "3600" if math.isinf(wait) else str(max(1, math.ceil(wait)))
                raise AccessError(429, "too many requests or characters for this client; "
                                    f"try again in {retry} s", headers={"Retry-After": retry})
