"""BLEU and chrF from sacreBLEU, on *detokenised* Chinese.

BLEU uses sacreBLEU's ``zh`` tokenizer, which splits every Chinese character apart (the
13a tokenizer would see an unsegmented sentence as one word and give ~0). Every score
carries its signature, so numbers from different runs can be compared honestly.
"""

from __future__ import annotations

from dataclasses import dataclass

from sacrebleu.metrics import BLEU, CHRF


@dataclass
class Score:
    name: str
    score: float
    signature: str
    detail: str  # e.g. "34.2 70.1/45.3/30.2/20.8 (BP = 0.98 ...)"

    def as_dict(self) -> dict:
        return {"score": round(self.score, 2), "signature": self.signature,
                "detail": self.detail}


def bleu(hypotheses: list[str], references: list[str], language: str = "zh") -> Score:
    """Corpus BLEU; ``language`` is the target's: ``zh`` splits characters, ``en`` uses
    sacreBLEU's standard ``13a`` tokenizer (for zh-en models)."""
    metric = BLEU(tokenize="zh" if language == "zh" else "13a")
    result = metric.corpus_score(hypotheses, [references])
    return Score("BLEU", result.score, str(metric.get_signature()), str(result))


def chrf(hypotheses: list[str], references: list[str]) -> Score:
    metric = CHRF()
    result = metric.corpus_score(hypotheses, [references])
    return Score("chrF", result.score, str(metric.get_signature()), str(result))


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """chrF of one sentence (for calibrating confidence: is this translation good?)."""
    return CHRF().sentence_score(hypothesis, [reference]).score
