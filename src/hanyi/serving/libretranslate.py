"""LibreTranslate-compatible endpoints (``hanyi serve --libretranslate``), so that existing
LibreTranslate clients (libretranslatepy, browser extensions, apps) work unchanged:

    POST /translate   q (a string or a list), source (en|auto), target (zh|zh-Hans|zh-CN),
                      format (text), alternatives (0..), api_key
                      -> {"translatedText": ..., "alternatives": [...],
                          "detectedLanguage": {...} when source is auto}
    GET  /languages   -> [{"code": "en", "name": "English", "targets": ["zh"]}, ...]
    POST /detect      q -> [{"language": "en", "confidence": 100.0}] (English or Chinese only,
                      by script: tokenization/script.py)
    POST /translate_file   multipart: file, source, target, api_key
                      -> {"translatedFileUrl": "http://HOST/download_file/NAME"}
    GET  /download_file/NAME  -> the translated file (kept an hour; serving/files.py)

``format: html`` translates each ``q`` as HTML (documents/html_doc.py: tags kept, inline
tags through the sentence). A file is translated in the format of its suffix (.txt, .md,
.html, .srt, .po; documents/formats.py), as LibreTranslate does with its own formats.

Like LibreTranslate they take JSON or form posts (``application/x-www-form-urlencoded``:
what libretranslatepy sends). A form post needs no CORS preflight, so any web page can make a
browser send one: that is why these endpoints are off unless asked for, and why they should
run behind ``--api-keys`` when the server is reachable by others. Keys, rate limits, the
cache and the batching are those of ``/api/translate``.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import Response

from hanyi.documents.formats import SUFFIXES
from hanyi.serving.access import Gate
from hanyi.serving.files import MEDIA_TYPES, Documents, Downloads, decode_upload
from hanyi.serving.schemas import TranslateRequest
from hanyi.tokenization.script import main_script

TARGETS = {"zh", "zh-Hans", "zh-CN", "zh-cn", "zh-hans"}
SOURCES = {"en", "auto"}
LANGUAGES = [{"code": "en", "name": "English", "targets": ["zh", "zh-Hans"]},
             {"code": "zh-Hans", "name": "Chinese (Simplified)", "targets": []}]


class CompatError(Exception):
    """400 with LibreTranslate's error shape (the app answers it like ApiError)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status, self.message = status, message


async def read_params(request: Request, read_body) -> dict:
    """JSON or form parameters (a form's repeated ``q`` becomes a list)."""
    body = (await read_body(request)).decode("utf-8", errors="strict")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        try:
            params = json.loads(body or "{}")
        except json.JSONDecodeError as exc:
            raise CompatError(f"malformed JSON: {exc.msg}") from None
        if not isinstance(params, dict):
            raise CompatError("the JSON body must be an object")
        return params
    form = parse_qs(body, keep_blank_values=True)
    return {k: (v if k == "q" and len(v) > 1 else v[0]) for k, v in form.items()}


def to_request(params: dict, model_beam: int) -> tuple[TranslateRequest, bool, int]:
    """(the /api/translate request, whether q was a list, alternatives asked)."""
    q = params.get("q")
    if q is None or (isinstance(q, list) and not all(isinstance(t, str) for t in q)) \
            or not isinstance(q, (str, list)):
        raise CompatError("Invalid request: missing q parameter")
    check_languages(params.get("source", "auto"), params.get("target", "zh"))
    if params.get("format") not in ("text", "html", None):
        raise CompatError(f"format {params.get('format')} is not supported: use text or html")
    try:
        alternatives = int(params.get("alternatives", 0) or 0)
    except (TypeError, ValueError):
        raise CompatError("alternatives must be a whole number") from None
    if alternatives < 0:
        raise CompatError("alternatives must be >= 0")
    fields = {"texts": q} if isinstance(q, list) else {"text": q}
    if params.get("format") == "html":  # a whole document each: no alternatives
        fields["format"], alternatives = "html", 0
    nbest = alternatives + 1
    if nbest > 1:
        fields.update(beam=max(model_beam, nbest), nbest=nbest)
    return TranslateRequest(**fields), isinstance(q, list), alternatives


def check_languages(source: str, target: str) -> None:
    if source not in SOURCES:
        raise CompatError(f"{source} is not supported: this server translates English (en)")
    if target not in TARGETS:
        raise CompatError(f"{target} is not supported: this server translates into Chinese "
                          f"(zh, zh-Hans)")


def answer(results: list, as_list: bool, alternatives: int, source: str) -> dict:
    def alts(t) -> list[str]:
        return [text for text, _, _ in t.alternatives[1:alternatives + 1]]

    out: dict = {"translatedText": [t.text for t in results] if as_list else results[0].text}
    if alternatives:
        out["alternatives"] = [alts(t) for t in results] if as_list else alts(results[0])
    if source == "auto":
        detected = {"language": "en", "confidence": 100.0}
        out["detectedLanguage"] = [detected] * len(results) if as_list else detected
    return out


def install_libretranslate(app: FastAPI, translator, gate: Gate, run, read_body,
                           documents: Documents, downloads: Downloads) -> None:
    """Add the endpoints; ``run(req, request)`` is /api/translate's own path through limits,
    the queue and the timeout, ``read_body(request)`` its bounded body reader, ``documents``
    and ``downloads`` translate and keep files (serving/files.py)."""
    install_files(app, gate, documents, downloads)

    @app.get("/languages")
    async def languages() -> list:
        return LANGUAGES

    @app.post("/translate")
    async def translate(request: Request) -> dict:
        params = await read_params(request, read_body)
        req, as_list, alternatives = to_request(params, translator.decode_cfg.beam_size)
        gate.check_header(request)
        gate.admit(request, params.get("api_key"), sum(len(t) for t in req.all_texts))
        results = await run(req, request)
        return answer(results, as_list, alternatives, params.get("source", "auto"))

    @app.post("/detect")
    async def detect(request: Request) -> list:
        params = await read_params(request, read_body)
        q = params.get("q")
        if not isinstance(q, str):
            raise CompatError("Invalid request: missing q parameter")
        gate.check_header(request)
        gate.admit(request, params.get("api_key"), 0)
        language = "zh-Hans" if main_script(q) == "han" else "en"
        return [{"language": language, "confidence": 100.0 if main_script(q) else 0.0}]


def install_files(app: FastAPI, gate: Gate, documents: Documents, downloads: Downloads) -> None:
    """``POST /translate_file`` and ``GET /download_file/NAME``, as LibreTranslate has them."""

    @app.post("/translate_file")
    async def translate_file(request: Request, file: Annotated[UploadFile | None, File()] = None,
                             source: Annotated[str, Form()] = "",
                             target: Annotated[str, Form()] = "",
                             api_key: Annotated[str, Form()] = "") -> dict:
        for name, value in (("file", file), ("source", source), ("target", target)):
            if not value:
                raise CompatError(f"Invalid request: missing {name} parameter")
        check_languages(source, target)
        name = file.filename or ""
        suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        fmt = SUFFIXES.get(suffix, "text" if suffix == ".txt" else None)
        if fmt is None:
            raise CompatError(f"Invalid request: file format not supported ({suffix or name}; "
                              f"this server takes .txt, {', '.join(sorted(SUFFIXES))})")
        gate.check_header(request)
        limit = documents.cfg.max_file_bytes
        text = decode_upload(await file.read(limit + 1), name, limit)
        gate.admit(request, api_key or None, len(text))
        out = await documents.translate(text, fmt, name)
        stored = downloads.put(name, out.text)
        return {"translatedFileUrl": str(request.url_for("download_file", filename=stored))}

    @app.get("/download_file/{filename}")
    async def download_file(filename: str) -> Response:
        found = downloads.get(filename)
        if found is None:
            raise CompatError("Invalid filename: no such translated file (files are kept "
                              "for an hour)", 404)
        name, content = found
        fmt = SUFFIXES.get("." + name.rsplit(".", 1)[-1].lower(), "text")
        return Response(content, media_type=MEDIA_TYPES[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
