"""Confidence: how sure the model is of a translation, one number in 0..1.

The raw signal is the mean log-probability per output token, EOS included,
``x = log P(y | x) / (|y| + 1)``: a model that hesitates at many tokens, or copies garbage,
gets a low x. Two mappings to 0..1:

* uncalibrated, ``exp(x)``: the geometric mean of the token probabilities;
* calibrated, ``sigmoid(a·x + b)`` (Platt 1999, "Probabilistic outputs for support vector
  machines"): a and b are fitted by logistic regression on a dev set so that the number
  estimates P(the translation is good), "good" meaning a sentence chrF of at least
  ``good_chrf`` against the reference. ``hanyi evaluate --calibrate`` fits them and writes
  ``confidence.json`` into the model directory; :class:`~hanyi.inference.Translator` reads it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

CONFIDENCE_FILE = "confidence.json"


@dataclass(frozen=True)
class Calibration:
    a: float
    b: float
    good_chrf: float  # what "good" meant when it was fitted
    sentences: int  # how many dev sentences it was fitted on
    fitted_on: str  # which set

    def as_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def mean_log_prob(log_prob: float, tokens: int) -> float:
    """log P / (output tokens + EOS)."""
    return log_prob / (tokens + 1)


def confidence(x: float, calibration: Calibration | None) -> float:
    if not math.isfinite(x):
        return 0.0
    if calibration is None:
        return math.exp(min(x, 0.0))
    z = calibration.a * x + calibration.b
    return 1.0 / (1.0 + math.exp(-z)) if z >= -700 else 0.0


def load_calibration(folder: Path | None) -> Calibration | None:
    """``folder/confidence.json`` if there is one (a broken file is ignored: the
    uncalibrated mapping still works)."""
    if folder is None or not (Path(folder) / CONFIDENCE_FILE).is_file():
        return None
    try:
        return Calibration(**json.loads((Path(folder) / CONFIDENCE_FILE).read_text("utf-8")))
    except (ValueError, TypeError):
        return None
