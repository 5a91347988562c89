"""Translate a test set and score it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from hanyi.config import DecodeConfig
from hanyi.evaluation.metrics import Score, bleu, chrf
from hanyi.inference import Translator


@dataclass
class Report:
    bleu: Score
    chrf: Score
    sentences: int
    seconds: float
    hypotheses: list[str]

    def as_dict(self) -> dict:
        return {"bleu": self.bleu.as_dict(), "chrf": self.chrf.as_dict(),
                "sentences": self.sentences, "seconds": round(self.seconds, 2),
                "sentences_per_second": round(self.sentences / max(self.seconds, 1e-9), 2)}


def evaluate(translator: Translator, sources: list[str], references: list[str],
             decode: DecodeConfig | None = None) -> Report:
    start = time.perf_counter()
    hypotheses = [t.text for t in translator.translate(sources, decode)]
    seconds = time.perf_counter() - start
    return Report(bleu(hypotheses, references), chrf(hypotheses, references), len(sources),
                  seconds, hypotheses)
