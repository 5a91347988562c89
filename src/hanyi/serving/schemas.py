"""The HTTP API's request and response bodies (pydantic), and the input limits.

``POST /api/translate`` takes either one text or a list of texts:

    {"text": "How are you?"}                       -> {"translation": "你好吗？", ...}
    {"texts": ["Hi.", "Thanks."], "beam": 4}       -> {"translations": ["嗨。", "谢谢。"], ...}

Options: ``format`` (text, markdown, html, srt, po: a text is a whole document, its markup
kept), ``glossary``, ``keep``, ``beam`` (1 = greedy), ``nbest`` (alternatives per text,
<= beam), ``attention``
(cross-attention weights, averaged over heads) and ``attention_heads`` (per layer *and*
head instead of averaged). Shape checks that pydantic can do alone live here; the limits
that depend on the server's ``ServeConfig`` (text length, number of texts, largest beam)
are checked by :func:`check_limits`, which the app turns into 413/422 answers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hanyi.config import ServeConfig

MAX_TERMS = 1000  # glossary entries + keep terms per request


class LimitError(ValueError):
    """A well-formed request that asks for more than this server allows."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="one text to translate")
    texts: list[str] | None = Field(None, description="several texts, translated in order")
    # strict: JSON true is not a beam of 1, nor "4" a number (a clear 422 instead)
    beam: int | None = Field(None, ge=1, strict=True,
                             description="beam size (1 = greedy); model default")
    nbest: int | None = Field(None, ge=1, strict=True,
                              description="alternatives per text (<= beam)")
    attention: bool = Field(False, strict=True, description="return cross-attention weights")
    attention_heads: bool = Field(False, strict=True,
                                  description="per layer and head, not head-averaged")
    api_key: str | None = Field(None, description="the API key, where the server needs one "
                                                  "(or: Authorization: Bearer KEY)")
    glossary: dict[str, str] | None = Field(
        None, description="English term -> the Chinese the translation must use")
    keep: list[str] | None = Field(None, description="terms to leave untranslated")
    format: Literal["text", "markdown", "html", "srt", "po"] = Field(
        "text", description="text: lines and sentences; markdown, html, srt, po: each text is "
                            "a whole document of that format, its markup kept (no n-best or "
                            "attention for documents)")
    inline: Literal["align", "slots"] = Field(
        "align", description="markdown, html: inline elements placed back by the model's "
                             "attention (align) or sent through it as numbered slots (slots)")

    @model_validator(mode="after")
    def _one_input(self) -> TranslateRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of 'text' (a string) or 'texts' (a list)")
        if self.format != "text" and (self.attention or self.attention_heads
                                      or (self.nbest or 1) > 1):
            raise ValueError(f"format {self.format}: a whole document has no n-best "
                             f"alternatives or attention weights; use format text")
        for i, text in enumerate(self.all_texts):
            _check_no_surrogates(text, "text" if self.text is not None else f"texts[{i}]")
        return self

    @property
    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


def _check_no_surrogates(text: str, where: str) -> None:
    """JSON may spell lone UTF-16 surrogates ("\\ud800"); they are not text and cannot be
    encoded as UTF-8 for the tokenizer, so we refuse them by position."""
    for pos, char in enumerate(text):
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise ValueError(f"{where}: lone UTF-16 surrogate U+{ord(char):04X} at character "
                             f"{pos}; send valid Unicode text")


def check_limits(request: TranslateRequest, cfg: ServeConfig, model_beam: int) -> None:
    """Raise :class:`LimitError` (413 for size, 422 for options) if the request is too big."""
    texts = request.all_texts
    if len(texts) > cfg.max_texts:
        raise LimitError(f"too many texts: {len(texts)} (this server takes at most "
                         f"{cfg.max_texts} per request)", 413)
    for i, text in enumerate(texts):
        if len(text) > cfg.max_chars:
            where = "text" if request.text is not None else f"texts[{i}]"
            raise LimitError(f"{where} is too long: {len(text)} characters (the limit is "
                             f"{cfg.max_chars})", 413)
    terms = {**(request.glossary or {}), **{k: "" for k in request.keep or ()}}
    if len(terms) > MAX_TERMS or any(len(k) > 200 or len(v) > 200 for k, v in terms.items()):
        raise LimitError(f"glossary and keep: at most {MAX_TERMS} terms of at most 200 "
                         f"characters", 413)
    beam = request.beam or model_beam
    if beam > cfg.max_beam:
        raise LimitError(f"beam {beam} is larger than this server allows ({cfg.max_beam})", 422)
    if request.nbest is not None and request.nbest > beam:
        raise LimitError(f"nbest ({request.nbest}) must be <= beam ({beam})", 422)


class Alternative(BaseModel):
    text: str
    score: float | None
    confidence: float = 1.0


class Attention(BaseModel):
    """Cross-attention of the best hypothesis: rows are target tokens, columns source tokens.

    ``weights`` is (L, T, S) averaged over heads, or (L, H, T, S) when ``per_head``.
    """

    src_tokens: list[str]
    tgt_tokens: list[str]  # ends with "</s>"
    layers: int
    heads: int
    per_head: bool
    weights: list


class TranslationItem(BaseModel):
    translation: str
    score: float | None  # length-normalised log-probability (null if not finite)
    confidence: float = 1.0  # 0..1: how sure the model is (inference/confidence.py)
    # the text was not in the model's source language (e.g. already Chinese): returned as is
    passed_through: bool = False
    alternatives: list[Alternative] = Field(default_factory=list)  # n-best, best first
    attention: Attention | None = None


class TranslateResponse(TranslationItem):
    """Answer to ``{"text": ...}``."""

    model: str
    time_ms: float


class BatchTranslateResponse(BaseModel):
    """Answer to ``{"texts": [...]}``: ``translations`` in input order, details in ``items``."""

    translations: list[str]
    items: list[TranslationItem]
    model: str
    time_ms: float


class HealthResponse(BaseModel):
    status: str  # "ok", or "degraded" while the worker is stuck past the request timeout
    model: str
    engine: str  # "torch", "ctranslate2-int8", ...
    attention: bool  # whether requests may ask for attention weights (PyTorch engines only)
    version: str
    uptime_s: float
    device: str
    queue: dict[str, int]
    model_meta: dict


class ErrorResponse(BaseModel):
    error: str
    status: int
