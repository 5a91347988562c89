"""Translate a test set and score it, overall and per English-length bucket.

Short sentences are easy and long ones hard; a corpus score hides which a model is good
at. ``by_length`` scores each bucket of English length (in words) on its own, with the
buckets of the held-out reports in docs/RESULTS.md: 1–5, 6–8, 9–12, 13–20, 21+.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hanyi.config import DecodeConfig
from hanyi.documents import translate_texts
from hanyi.inference import Translator
from hanyi.metrics import Score, bleu, chrf

LENGTH_BUCKETS = ((1, 5), (6, 8), (9, 12), (13, 20), (21, None))


def bucket_name(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else f"{low}-{high}"


def by_length(sources: list[str], hypotheses: list[str], references: list[str],
              language: str = "zh") -> list[dict]:
    """BLEU and chrF of each source-length bucket (words = whitespace-separated tokens;
    for a Chinese source, characters / 1.5, about one English word each). A sentence of 0
    words counts in the first bucket; empty buckets are left out."""
    rows = []
    for low, high in LENGTH_BUCKETS:
        picked = [i for i, n in enumerate(map(_words, sources))
                  if max(n, 1) >= low and (high is None or n <= high)]
        if not picked:
            continue
        hyp, ref = [hypotheses[i] for i in picked], [references[i] for i in picked]
        rows.append({"words": bucket_name(low, high), "sentences": len(picked),
                     "bleu": round(bleu(hyp, ref, language).score, 2),
                     "chrf": round(chrf(hyp, ref).score, 2)})
    return rows


@dataclass
class Report:
    bleu: Score
    chrf: Score
    sentences: int
    seconds: float
    hypotheses: list[str]
    lengths: list[dict] | None = None  # by_length() rows, when asked for

    def as_dict(self) -> dict:
        out = {"bleu": self.bleu.as_dict(), "chrf": self.chrf.as_dict(),
               "sentences": self.sentences, "seconds": round(self.seconds, 2),
               "sentences_per_second": round(self.sentences / max(self.seconds, 1e-9), 2)}
        if self.lengths is not None:
            out["by_length"] = self.lengths
        return out


def evaluate(translator: Translator, sources: list[str], references: list[str],
             decode: DecodeConfig | None = None, lengths: bool = False) -> Report:
    start = time.perf_counter()
    # the pipeline `hanyi translate` runs: a line of several sentences is split and joined
    hypotheses = [t.text for t in translate_texts(translator, sources, decode)]
    seconds = time.perf_counter() - start
    language = translator.target_language
    rows = by_length(sources, hypotheses, references, language) if lengths else None
    return Report(bleu(hypotheses, references, language), chrf(hypotheses, references),
                  len(sources), seconds, hypotheses, rows)


def _words(text: str) -> int:
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return round(sum("\u4e00" <= ch <= "\u9fff" for ch in text) / 1.5)
    return len(text.split())
