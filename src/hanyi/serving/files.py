"""Whole documents through the server: ``POST /api/translate_file``, ``format`` in
``/api/translate``, and the files of the LibreTranslate endpoints (libretranslate.py).

    POST /api/translate_file   multipart: file, format (auto|text|markdown|html|srt|po),
                               glossary (a JSON object), keep (a JSON list), api_key
                               -> the translated file, same format, as an attachment

A document goes through the batcher as *one* job holding all of its text units (every
sentence of every paragraph, documents/formats.py), so it is translated in well-filled
batches and other clients' requests still take turns with it. A file that is not UTF-8,
too large, or of an unknown format gets a 4xx with one clear message.

Translated files for LibreTranslate's two-step protocol (``/translate_file`` answers a URL,
the client then GETs ``/download_file/NAME``) are kept by :class:`Downloads` in one folder
that every worker process shares: at most ``MAX_FILES`` files, each for ``KEEP_S``
seconds.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from hanyi.documents.formats import detect_format, translate_via
from hanyi.documents.protect import protect, restore
from hanyi.errors import Cancelled, HanyiError
from hanyi.files import atomic_open
from hanyi.inference import Translation
from hanyi.serving.batching import DynamicBatcher, QueueFullError
from hanyi.serving.errors import ApiError

MEDIA_TYPES = {"text": "text/plain; charset=utf-8", "srt": "application/x-subrip",
               "po": "text/x-gettext-translation; charset=utf-8",
               "markdown": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}
MAX_FILES, KEEP_S = 200, 3600.0
_STORED = re.compile(r"[0-9a-f]{32}\.[A-Za-z0-9_.-]{1,200}")


class Documents:
    """Translates whole documents with the server's batcher, limits and timeout."""

    def __init__(self, translator, batcher: DynamicBatcher, cfg):
        self.translator, self.batcher, self.cfg = translator, batcher, cfg

    async def translate(self, text: str, fmt: str, name: str = "<input>", decode=None,
                        keep: tuple[str, ...] = (), glossary: dict | None = None,
                        inline: str = "align") -> Translation:
        """The translated document; its score is the mean of its sentences', its
        confidence the lowest (as for a paragraph, documents/text.py)."""
        decode = decode or self.translator.decode_cfg
        results: list[Translation] = []

        def via_batcher(texts: list[str]) -> list[str]:  # runs in a worker thread
            protected = [protect(t, keep, glossary) for t in texts]
            future = self.batcher.submit([p.text for p in protected], decode, False,
                                         self.cfg.timeout_s)
            done = future.result(timeout=self.cfg.timeout_s + 5)
            results.extend(done)
            return [restore(r.text, p.slots)[0] for r, p in zip(done, protected, strict=True)]

        try:
            out, _ = await run_in_threadpool(translate_via, text, fmt, via_batcher, name,
                                             self.translator.target_language, inline)
        except QueueFullError as exc:
            raise ApiError(503, str(exc), headers={"Retry-After": "1"}) from None
        except (TimeoutError, Cancelled):  # Cancelled: the worker stopped it at its deadline
            raise ApiError(504, f"no translation within {self.cfg.timeout_s:g} s") from None
        except HanyiError as exc:
            raise ApiError(400, str(exc)) from None
        if not results:
            return Translation(out)
        return Translation(out, score=sum(r.score for r in results) / len(results),
                           confidence=min(r.confidence for r in results))


def decode_upload(raw: bytes, name: str, limit: int) -> str:
    """An uploaded file's text: at most ``limit`` bytes of UTF-8 (a BOM is dropped)."""
    if len(raw) > limit:
        raise ApiError(413, f"file too large (limit {limit} bytes)")
    if not raw.strip():
        raise ApiError(400, f"{name} is empty: nothing to translate")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"{name} is not UTF-8 text (bad byte at offset {exc.start})"
                       ) from None


def json_field(value: str, name: str, kind: type):
    """A form field that holds JSON (``glossary``: an object of strings, ``keep``: a list)."""
    if not value.strip():
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ApiError(422, f"{name}: malformed JSON ({exc.msg})") from None
    items = parsed.items() if isinstance(parsed, dict) else enumerate(parsed) \
        if isinstance(parsed, list) else None
    if not isinstance(parsed, kind) or not all(isinstance(v, str) for _, v in items):
        raise ApiError(422, f"{name} must be a JSON {'object' if kind is dict else 'list'} "
                            f"of strings")
    return parsed


def download_name(filename: str | None, fmt: str) -> str:
    """``notes.md`` -> ``notes.zh.md`` (a safe name for the Content-Disposition header)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(filename or "translation").name)
    name = Path(safe.lstrip(".") or "translation")
    suffix = name.suffix or {"markdown": ".md", "html": ".html", "srt": ".srt",
                             "po": ".po"}.get(fmt, ".txt")
    return f"{name.stem}.zh{suffix}"


def install_file_endpoint(app: FastAPI, documents: Documents, gate) -> None:
    cfg = documents.cfg

    @app.post("/api/translate_file")
    async def translate_file(request: Request, file: Annotated[UploadFile, File()],
                             format: Annotated[str, Form()] = "auto",
                             glossary: Annotated[str, Form()] = "",
                             keep: Annotated[str, Form()] = "",
                             inline: Annotated[str, Form()] = "align",
                             api_key: Annotated[str, Form()] = ""):
        """Translate an uploaded file (multipart field ``file``) in its format."""
        gate.check_header(request)
        name = file.filename or "upload"
        text = decode_upload(await file.read(cfg.max_file_bytes + 1), name, cfg.max_file_bytes)
        terms = json_field(glossary, "glossary", dict)
        kept = tuple(json_field(keep, "keep", list) or ())
        try:
            fmt = detect_format(name, format)
        except HanyiError as exc:
            raise ApiError(422, str(exc)) from None
        gate.admit(request, api_key or None, len(text))
        out = await documents.translate(text, fmt, name, keep=kept, glossary=terms,
                                        inline=inline)
        disposition = f'attachment; filename="{download_name(name, fmt)}"'
        return Response(out.text, media_type=MEDIA_TYPES[fmt],
                        headers={"Content-Disposition": disposition})


class Downloads:
    """Translated files waiting to be downloaded (LibreTranslate's ``/download_file``)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def put(self, name: str, content: str) -> str:
        """Keep ``content``; returns the name to download it by."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prune()
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).name)[-200:].lstrip(".") or "file"
        stored = f"{uuid.uuid4().hex}.{safe}"
        with atomic_open(self.folder / stored) as out:
            out.write(content)
        return stored

    def get(self, stored: str) -> tuple[str, bytes] | None:
        """(the file name to give the client, the content), or None if unknown/expired."""
        if not _STORED.fullmatch(stored):
            return None  # never a path: no "..", no "/"
        path = self.folder / stored
        try:
            if time.time() - path.stat().st_mtime > KEEP_S:
                return None
            return stored.split(".", 1)[1], path.read_bytes()
        except OSError:
            return None

    def prune(self) -> None:
        """Drop expired files, and the oldest beyond ``MAX_FILES``."""
        aged = []
        for path in self.folder.iterdir():
            try:
                aged.append((path.stat().st_mtime, path))
            except OSError:  # removed meanwhile by another worker
                continue
        now = time.time()
        for i, (mtime, path) in enumerate(sorted(aged)):
            if len(aged) - i >= MAX_FILES or now - mtime > KEEP_S:
                path.unlink(missing_ok=True)
