"""The FastAPI app behind `hanyi serve`: the JSON API, its docs and the web page.

    app = create_app(Translator.load("models/hanyi-en-zh"), ServeConfig())

Routes: ``POST /api/translate`` (see schemas.py), ``POST /api/translate_file`` (files.py),
``GET /api/health``, ``GET /docs``
(OpenAPI, with Swagger UI served from the installed ``swagger-ui-bundle`` package, since
these machines have no internet) and ``GET /`` (the page in static/).

Every answer is JSON. Bad input gets a 4xx with ``{"error": message, "status": code}``:
malformed JSON, invalid UTF-8 or an empty body -> 400; a missing or wrong field -> 422;
too long or too many texts -> 413; a full queue -> 503; no answer within ``timeout_s`` ->
504. A 500 means a bug in hanyi. The model never runs on the event loop: requests go
through the :class:`DynamicBatcher`'s worker thread (batching.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from hanyi.config import ServeConfig
from hanyi.documents import translate_texts
from hanyi.documents.protect import protect, restore
from hanyi.errors import Cancelled, HanyiError
from hanyi.inference.lexicon import reverse_cedict
from hanyi.serving.access import AccessError, Gate, RedactKeys
from hanyi.serving.batching import DynamicBatcher, QueueFullError
from hanyi.serving.convert import to_item
from hanyi.serving.errors import ApiError
from hanyi.serving.files import Documents, Downloads, install_file_endpoint
from hanyi.serving.libretranslate import CompatError, install_libretranslate
from hanyi.serving.schemas import (
    BatchTranslateResponse,
    ErrorResponse,
    HealthResponse,
    LimitError,
    TranslateRequest,
    TranslateResponse,
    check_limits,
)
from hanyi.version import __version__

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
ERRORS = {code: {"model": ErrorResponse}
          for code in (400, 401, 403, 408, 413, 415, 422, 429, 503, 504)}


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status,
                        headers=headers)


async def read_json(request: Request, max_bytes: int, body_timeout_s: float = 10.0) -> object:
    """The request body as JSON: declared as JSON, bounded in size, strict UTF-8, clear
    messages. Requiring ``Content-Type: application/json`` is what makes browsers ask
    (CORS preflight) before another web site's page may post here: a ``text/plain``
    form post needs no preflight."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, f"send the request as JSON with Content-Type: application/json "
                            f"(got {media_type or 'no Content-Type'})")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, f"request body too large ({declared} bytes; limit {max_bytes})")
    try:  # a client that sends its body byte by byte must not hold a connection for ever
        body = await asyncio.wait_for(read_body(request, max_bytes), body_timeout_s)
    except asyncio.TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {body_timeout_s:g} s",
                       headers={"Connection": "close"}) from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not valid UTF-8 (bad byte at offset "
                            f"{exc.start})") from None
    if not text.strip():
        raise ApiError(400, 'empty request body; send JSON such as {"text": "Hello."}')
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON at line {exc.lineno}, column {exc.colno}: "
                            f"{exc.msg}") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None


async def read_body(request: Request, max_bytes: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ApiError(413, f"request body too large (over {max_bytes} bytes)")
    return bytes(body)


def parse_request(payload: object) -> TranslateRequest:
    try:
        return TranslateRequest.model_validate(payload)
    except ValidationError as exc:
        raise ApiError(422, validation_message(exc.errors())) from None


def validation_message(errors: list) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(AccessError)
    async def _access_error(_request, exc: AccessError):
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(CompatError)
    async def _compat_error(_request, exc: CompatError):
        return error_response(exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request, exc: StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request, exc: RequestValidationError):
        return error_response(422, validation_message(exc.errors()))

    @app.exception_handler(Exception)
    async def _bug(_request, exc: Exception):
        log.exception("internal error", exc_info=exc)
        return error_response(500, "internal server error (a bug in hanyi; see the log)")


def create_app(translator, cfg: ServeConfig | None = None, downloads_dir: str | None = None
               ) -> FastAPI:
    """The app for one loaded :class:`~hanyi.inference.Translator`. ``downloads_dir``: where
    LibreTranslate's translated files wait to be downloaded (a shared folder when several
    worker processes serve; default: a temporary folder of this process)."""
    cfg = cfg or ServeConfig()
    def translate(texts, decode, need_attention, cancel=None):  # texts of any length
        return translate_texts(translator, texts, decode, need_attention, cancel)

    batcher = DynamicBatcher(translate, cfg.max_batch, cfg.batch_wait_ms, cfg.queue_size)
    cache = translator.enable_cache(cfg.cache_size) if cfg.cache_size else None
    gate = Gate.from_config(cfg)
    logging.getLogger("uvicorn.access").addFilter(RedactKeys())  # keys never in the log
    started = time.time()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        batcher.start()
        if cfg.warmup:
            await warm_up(batcher, translator, cfg)
        yield
        batcher.stop()
        if own_downloads:  # LibreTranslate's translated files, in this process's folder
            shutil.rmtree(own_downloads, ignore_errors=True)

    app = FastAPI(title="hanyi 汉译", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="English→Chinese translation with a from-scratch Transformer.")
    app.state.batcher, app.state.translator, app.state.serve_config = batcher, translator, cfg
    install_error_handlers(app)
    if cfg.cors_origins:  # other web sites' pages allowed to call the API (none by default)
        app.add_middleware(CORSMiddleware, allow_origins=list(cfg.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "Authorization"])
    if cfg.metrics:  # prometheus-client is imported only when asked for
        from hanyi.serving.metrics import install_metrics

        install_metrics(app, batcher, cache)
    documents = Documents(translator, batcher, cfg)
    own_downloads = None
    if cfg.libretranslate:
        if downloads_dir is None:
            own_downloads = downloads_dir = tempfile.mkdtemp(prefix="hanyi-downloads-")
        install_compat(app, translator, batcher, cfg, gate, documents, downloads_dir)
    mount_pages(app)
    install_health(app, translator, batcher, cfg, started)
    install_translate(app, translator, batcher, cfg, gate, documents)
    install_file_endpoint(app, documents, gate)
    return app


def install_health(app: FastAPI, translator, batcher: DynamicBatcher, cfg: ServeConfig,
                   started: float) -> None:
    @app.get("/api/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        return HealthResponse(
            status="degraded" if batcher.stalled(cfg.timeout_s) else "ok",
            model=translator.name, engine=translator.engine_name,
            attention=translator.returns_attention, version=__version__,
            uptime_s=round(time.time() - started, 3), device=str(translator.device),
            queue={"waiting": batcher.waiting, "capacity": cfg.queue_size,
                   "batches": batcher.stats.batches, "texts": batcher.stats.texts,
                   "cancelled": batcher.stats.cancelled},
            model_meta={k: v for k, v in translator.loaded.meta.items()
                        if isinstance(v, (str, int, float))})


def install_translate(app: FastAPI, translator, batcher: DynamicBatcher, cfg: ServeConfig,
                      gate, documents: Documents) -> None:
    """``POST /api/translate``: hanyi's own JSON API."""
    # Room for max_texts texts of max_chars characters even if every one is \\uXXXX-escaped.
    max_bytes = 12 * cfg.max_chars * cfg.max_texts + 65536

    @app.post("/api/translate", response_model=TranslateResponse | BatchTranslateResponse,
              responses=ERRORS, openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": TranslateRequest.model_json_schema()}}}})
    async def translate(request: Request):
        """Translate ``text`` (one string) or ``texts`` (a list) from English to Chinese."""
        t0 = time.perf_counter()
        gate.check_header(request)  # a key in the header or query: refused before the body
        req = parse_request(await read_json(request, max_bytes, cfg.body_timeout_s))
        gate.admit(request, req.api_key, sum(len(t) for t in req.all_texts))
        results = await run_translation(req, request, translator, batcher, cfg, documents)
        items = await run_in_threadpool(lambda: [to_item(r, req.attention_heads)
                                                 for r in results])
        elapsed = round((time.perf_counter() - t0) * 1000, 2)
        if req.text is not None:
            return TranslateResponse(**items[0].model_dump(), model=translator.name,
                                     time_ms=elapsed)
        return BatchTranslateResponse(translations=[i.translation for i in items], items=items,
                                      model=translator.name, time_ms=elapsed)


def install_compat(app: FastAPI, translator, batcher: DynamicBatcher, cfg: ServeConfig, gate,
                   documents: Documents, downloads_dir: str) -> None:
    """The LibreTranslate endpoints (libretranslate.py), on this app's limits and queue."""
    max_bytes = 12 * cfg.max_chars * cfg.max_texts + 65536

    async def body_of(request: Request) -> bytes:
        try:
            return await asyncio.wait_for(read_body(request, max_bytes), cfg.body_timeout_s)
        except asyncio.TimeoutError:
            raise ApiError(408, "the request body did not arrive in time") from None

    install_libretranslate(
        app, translator, gate, read_body=body_of,
        run=lambda req, request: run_translation(req, request, translator, batcher, cfg,
                                                 documents),
        documents=documents, downloads=Downloads(downloads_dir))


WARMUP_TEXT = "Excuse me, could you tell me how to get to the train station from here?"


async def warm_up(batcher: DynamicBatcher, translator, cfg: ServeConfig) -> None:
    """Translate one full batch (``max_batch`` texts, default options) before serving.

    The first full batch grows the allocator's pools and caches to their working size: not
    billed to the first users' latency, nor seen as memory creeping up under load. It runs
    on the batcher's own worker thread (the one that does all the translating), so it warms
    the same arena. The lexicon fallback's dictionary (~1 s) is read here, not on demand."""
    t0 = time.perf_counter()
    if translator.fallback_terms(translator.decode_cfg) is not None:
        await asyncio.to_thread(reverse_cedict)
    texts = [WARMUP_TEXT] * cfg.max_batch
    await asyncio.wrap_future(batcher.submit(texts, translator.decode_cfg, False))
    log.info("warm-up: %d texts in %.2f s", len(texts), time.perf_counter() - t0)


async def run_translation(req: TranslateRequest, request: Request | None, translator,
                          batcher: DynamicBatcher, cfg: ServeConfig, documents: Documents
                          ) -> list:
    """``req``'s translations: texts of any length, or each a whole document of
    ``req.format`` (documents/formats.py)."""
    if req.format == "text":
        return await run_request(req, translator, batcher, cfg, request)
    decode = decode_options(req, translator, cfg)
    return [await documents.translate(text, req.format, decode=decode,
                                      keep=tuple(req.keep or ()), glossary=req.glossary,
                                      inline=req.inline)
            for text in req.all_texts]


async def run_request(req: TranslateRequest, translator, batcher: DynamicBatcher,
                      cfg: ServeConfig, request: Request | None = None) -> list:
    """Check limits, queue the texts, wait (bounded) for the worker's translations."""
    decode = decode_options(req, translator, cfg)
    need_attention = req.attention or req.attention_heads
    if need_attention and not translator.returns_attention:  # (a CTranslate2 export's
        # alignment weights are one head mean, not the per-layer heat-map asked for)
        raise ApiError(400, f"attention weights per layer and head are not available from "
                            f"the {translator.engine_name} engine; serve with --engine torch")
    # --keep terms and a glossary differ per request: they become slots here, before the
    # texts meet other requests' in a batch, and are put back when the answer comes
    protected = [protect(t, tuple(req.keep or ()), req.glossary) for t in req.all_texts]
    try:
        future = batcher.submit([p.text for p in protected], decode, need_attention,
                                cfg.timeout_s)
    except QueueFullError as exc:
        raise ApiError(503, str(exc), headers={"Retry-After": "1"}) from None
    try:
        results = await wait_for_answer(future, batcher, cfg.timeout_s, request)
    except HanyiError as exc:
        raise ApiError(400, str(exc)) from None
    return [restored(r, p.slots) for r, p in zip(results, protected, strict=True)]


def decode_options(req: TranslateRequest, translator, cfg: ServeConfig):
    """The request's decoding options, once its limits are checked (else a 413/422)."""
    default = translator.decode_cfg
    try:
        check_limits(req, cfg, default.beam_size)
        beam = req.beam or default.beam_size
        nbest = 1 if req.format != "text" else req.nbest or min(default.nbest, beam)
        return translator.with_options(beam_size=beam, nbest=nbest)
    except LimitError as exc:
        raise ApiError(exc.status, str(exc)) from None
    except HanyiError as exc:
        raise ApiError(422, str(exc)) from None


def restored(translation, slots: dict[str, str]):
    """``translation`` with the request's slots put back (documents/protect.py)."""
    if not slots:
        return translation
    return dataclasses.replace(
        translation, text=restore(translation.text, slots)[0],
        alternatives=[(restore(a, slots)[0], s, c) for a, s, c in translation.alternatives])


CLIENT_CHECK_S = 0.5  # how often a waiting request looks whether its client is still there


async def wait_for_answer(future, batcher: DynamicBatcher, timeout_s: float,
                          request: Request | None) -> list:
    """The translations of ``future``, or an ApiError: 504 after ``timeout_s``, 499 when the
    client has gone. Either way the batcher is told, so no work is done for nobody."""
    loop = asyncio.get_running_loop()
    answer = asyncio.wrap_future(future)
    deadline = loop.time() + timeout_s
    timed_out = ApiError(504, f"no translation within {timeout_s:g} s (the server is "
                              f"overloaded or the text is very long)")
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            batcher.abandon(future)
            answer.cancel()  # nobody will read it (and no "exception never retrieved")
            raise timed_out
        done, _ = await asyncio.wait({answer}, timeout=min(CLIENT_CHECK_S, remaining))
        if done:
            try:
                return answer.result()
            except Cancelled:  # the worker stopped it at its deadline, just before we looked
                raise timed_out from None
        if request is not None and await request.is_disconnected():
            batcher.abandon(future)
            answer.cancel()
            raise ApiError(499, "the client closed the connection")


def mount_pages(app: FastAPI) -> None:
    """The web page, its assets and the API docs, all served locally (no CDN)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    try:
        import swagger_ui_bundle
    except ImportError:  # the docs page needs the `serve` extra; the API works without it
        log.warning("swagger-ui-bundle is not installed; /docs is off (/openapi.json works)")
        return
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="hanyi API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")
