"""Fit the confidence calibration of a model on a dev set (``hanyi evaluate --calibrate``).

Each dev sentence gives one point: x, the mean log-probability per output token of its
translation, and whether the translation is good (sentence chrF >= ``good_chrf`` against the
reference). Platt scaling fits P(good | x) = sigmoid(a·x + b) by logistic regression
(Newton's method), with Platt's smoothed targets (N₊+1)/(N₊+2) and 1/(N₋+2) so that a set
with no bad (or no good) sentence still gives finite a and b. The result is written to
``MODEL/confidence.json``, where :class:`~hanyi.inference.Translator` finds it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from hanyi.files import atomic_write_text
from hanyi.inference import Translator
from hanyi.inference.confidence import CONFIDENCE_FILE, Calibration
from hanyi.metrics import sentence_chrf

GOOD_CHRF = 50.0


def fit_platt(xs: list[float], good: list[bool], iterations: int = 100) -> tuple[float, float]:
    """(a, b) of sigmoid(a·x + b) ≈ P(good | x), by Newton's method on the log-loss."""
    x = np.asarray(xs, dtype=np.float64)
    positives = sum(good)
    y = np.where(good, (positives + 1) / (positives + 2), 1 / (len(good) - positives + 2))
    design = np.stack([x, np.ones_like(x)], axis=1)  # (N, 2)
    w = np.zeros(2)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(design @ w, -500, 500)))
        gradient = design.T @ (p - y) + 1e-6 * w
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def calibrate(translator: Translator, sources: list[str], references: list[str],
              name: str, good_chrf: float = GOOD_CHRF) -> tuple[Calibration, list[dict]]:
    """Fit on ``sources``/``references``; returns the calibration and a reliability table
    (per confidence bin: sentences, mean confidence, share of good translations)."""
    pairs = [(s, r) for s, r in zip(sources, references, strict=True) if s.strip()]
    translations = translator.translate([s for s, _ in pairs])
    xs = [t.token_log_prob for t in translations]
    good = [sentence_chrf(t.text, r) >= good_chrf
            for t, (_, r) in zip(translations, pairs, strict=True)]
    a, b = fit_platt(xs, good)
    fitted = Calibration(a, b, good_chrf, len(pairs), name)
    sure = [1 / (1 + math.exp(-max(min(a * x + b, 500), -500))) for x in xs]
    return fitted, reliability(sure, good)


def reliability(confidences: list[float], good: list[bool], bins: int = 5) -> list[dict]:
    rows = []
    for k in range(bins):
        low, high = k / bins, (k + 1) / bins
        picked = [i for i, c in enumerate(confidences)
                  if low <= c < high or (k == bins - 1 and c == 1.0)]
        if picked:
            rows.append({"confidence": f"{low:.1f}-{high:.1f}", "sentences": len(picked),
                         "mean_confidence": round(sum(confidences[i] for i in picked)
                                                  / len(picked), 3),
                         "good": round(sum(good[i] for i in picked) / len(picked), 3)})
    return rows


def save_calibration(folder: Path, calibration: Calibration) -> Path:
    path = Path(folder) / CONFIDENCE_FILE
    atomic_write_text(path, calibration.as_json())
    return path
