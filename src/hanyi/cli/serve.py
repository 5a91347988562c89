"""`hanyi serve`: the web page and HTTP API on uvicorn (127.0.0.1:8000 by default).

Settings, later ones winning: the ``serve:`` section saved in the model directory's
config.yaml, the ``serve:`` section of ``--config FILE``, then the flags.

The model loads once, before the server starts listening. With ``--workers N > 1``
uvicorn runs N processes; each loads the model once (in ``app_from_env``) and gets
cores / N torch threads, so the processes do not fight over the CPU.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import os
import shutil
import socket
import tempfile

from hanyi.cli.common import add_model_args, decode_overrides, load_translator
from hanyi.config import ServeConfig, from_dict, read_yaml, to_dict
from hanyi.errors import ConfigError
from hanyi.runtime import setup_logging

log = logging.getLogger(__name__)

SPEC_ENV = "HANYI_SERVE_SPEC"  # how the parent hands the settings to worker processes
FLAGS = {"host": "host", "port": "port", "workers": "workers", "max_chars": "max_chars",
         "max_texts": "max_texts", "max_beam": "max_beam", "queue_size": "queue_size",
         "timeout": "timeout_s", "max_batch": "max_batch", "batch_wait_ms": "batch_wait_ms",
         "warmup": "warmup", "cors_origins": "cors_origins", "api_keys": "api_keys_file",
         "rate_limit": "rate_limit", "char_limit": "char_limit", "cache_size": "cache_size",
         "metrics": "metrics", "body_timeout": "body_timeout_s",
         "libretranslate": "libretranslate"}


def add_parser(sub) -> None:
    d = ServeConfig()
    p = sub.add_parser("serve", help="translation web page and HTTP API",
                       description="Serve a translation web page at / and a JSON API at "
                                   "/api/translate (docs at /docs).")
    add_model_args(p)
    p.add_argument("--config", help="a YAML file whose serve: section sets the defaults "
                                    "(over the model's own; flags override both)")
    p.add_argument("--host", help=f"address to bind (default: {d.host}, this machine only)")
    p.add_argument("--port", type=int, help=f"port (default: {d.port})")
    p.add_argument("--workers", type=int, help=f"server processes (default: {d.workers})")
    p.add_argument("--max-chars", type=int, help=f"longest text (default: {d.max_chars})")
    p.add_argument("--max-texts", type=int, help=f"texts per request (default: {d.max_texts})")
    p.add_argument("--max-beam", type=int, help=f"largest beam (default: {d.max_beam})")
    p.add_argument("--queue-size", type=int,
                   help=f"texts waiting before 503 (default: {d.queue_size})")
    p.add_argument("--timeout", type=float,
                   help=f"seconds per request before 504 (default: {d.timeout_s:g})")
    p.add_argument("--body-timeout", type=float,
                   help=f"seconds for a request body to arrive before 408 "
                        f"(default: {d.body_timeout_s:g})")
    p.add_argument("--max-batch", type=int,
                   help=f"texts batched together, 1 = no batching (default: {d.max_batch})")
    p.add_argument("--batch-wait-ms", type=float,
                   help=f"wait for a batch to fill (default: {d.batch_wait_ms:g})")
    p.add_argument("--no-warmup", dest="warmup", action="store_false", default=None,
                   help="start serving without first translating one full batch")
    p.add_argument("--cors-origins", nargs="+", metavar="ORIGIN",
                   help="web origins whose pages may call the API from a browser, e.g. "
                        "https://example.org (default: none; '*' for any)")
    p.add_argument("--api-keys", metavar="FILE",
                   help="require an API key from this file (one per line; see docs/serve.md); "
                        "default: $HANYI_API_KEYS_FILE, else no keys")
    p.add_argument("--rate-limit", metavar="N/min",
                   help="requests per key (or per client IP without keys), e.g. 60/min")
    p.add_argument("--char-limit", metavar="N/min",
                   help="characters of text per key (or client IP), e.g. 20000/min")
    p.add_argument("--cache-size", type=int, metavar="N",
                   help=f"translations kept in memory, 0 = off (default: {d.cache_size})")
    p.add_argument("--metrics", action="store_true", default=None,
                   help="serve /metrics in the Prometheus text format")
    p.add_argument("--libretranslate", action="store_true", default=None,
                   help="also serve LibreTranslate's API (/translate, /languages, /detect, "
                        "/translate_file) for its clients; it takes form posts: use "
                        "--api-keys beyond localhost")
    p.add_argument("--no-access-log", action="store_true", help="do not log every request")
    p.set_defaults(run=run)


def serve_config(args, base: ServeConfig | None = None) -> ServeConfig:
    """``base`` (the model's saved serve section), then --config's serve section, then
    the flags."""
    values = to_dict(base or ServeConfig())
    if getattr(args, "config", None):
        section = read_yaml(args.config).get("serve") or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{args.config}: serve must be a mapping of settings")
        values.update(section)
    values.update({field: getattr(args, flag) for flag, field in FLAGS.items()
                   if getattr(args, flag) is not None})
    return from_dict(ServeConfig, values, "serve")


def run(args) -> int:
    import uvicorn

    setup_logging(args.verbose)
    serve_config(args)  # a bad --config or flag fails before the model loads
    translator = load_translator(args)
    cfg = serve_config(args, translator.loaded.config.serve)
    check_port_free(cfg.host, cfg.port)
    announce_access(cfg)
    common = dict(host=cfg.host, port=cfg.port, log_config=None,
                  access_log=not args.no_access_log)
    log.info("serving %s on http://%s:%d/", translator.name, cfg.host, cfg.port)
    if cfg.workers == 1:
        from hanyi.serving import create_app

        uvicorn.run(create_app(translator, cfg), **common)
        return 0
    # LibreTranslate's translated files wait in one folder that every worker can read
    downloads = tempfile.mkdtemp(prefix="hanyi-downloads-")
    spec = {"model": str(translator.loaded.path), "device": str(translator.device),
            "overrides": decode_overrides(args), "engine": args.engine, "serve": to_dict(cfg),
            "downloads": downloads}
    os.environ[SPEC_ENV] = json.dumps(spec)
    del translator  # each worker process loads its own copy
    try:
        uvicorn.run("hanyi.cli.serve:app_from_env", factory=True, workers=cfg.workers,
                    **common)
    finally:
        shutil.rmtree(downloads, ignore_errors=True)
    return 0


def app_from_env():
    """uvicorn worker factory (``--workers N > 1``): the app from $HANYI_SERVE_SPEC."""
    import torch

    from hanyi.inference import Translator
    from hanyi.serving import create_app

    setup_logging()  # a fresh process: the parent's logging setup is not inherited
    spec = json.loads(os.environ[SPEC_ENV])
    cfg = from_dict(ServeConfig, spec["serve"], "serve")
    threads = max(1, (os.cpu_count() or 1) // cfg.workers)
    torch.set_num_threads(threads)
    translator = Translator.load(spec["model"], spec["device"], overrides=spec["overrides"],
                                 threads=threads, engine=spec.get("engine", "auto"))
    return create_app(translator, cfg, downloads_dir=spec.get("downloads"))


def announce_access(cfg: ServeConfig) -> None:
    """Say at start-up who can use the server (and fail now on a bad keys file)."""
    from hanyi.serving.access import KEYS_ENV, load_api_keys

    keys_file = cfg.api_keys_file or os.environ.get(KEYS_ENV)
    if keys_file:
        log.info("API keys required: %d keys from %s", len(load_api_keys(keys_file)),
                 keys_file)
    elif is_loopback(cfg.host):
        log.info("no API keys: open to every program on this machine (%s only)", cfg.host)
    else:
        log.warning("binding %s WITHOUT API keys: anyone who can reach this machine can use "
                    "the server; pass --api-keys FILE", cfg.host)
    if not is_loopback(cfg.host):
        log.warning("binding %s: the server is reachable from other machines", cfg.host)


def check_port_free(host: str, port: int) -> None:
    """One clear error line now, instead of "serving on ..." followed by uvicorn's
    multi-line bind error (there is a moment between this check and uvicorn's bind, but
    the usual case, another server already listening, is caught)."""
    if port == 0:
        return
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use (another server?); "
                              f"choose another with --port") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror})") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: uvicorn resolves it; we only decide whether to warn
        return False
