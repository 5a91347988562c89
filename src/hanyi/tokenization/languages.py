"""The two languages and what differs between them: normalisation, detokenisation, and
which SentencePiece model `prepare` trains for each.

A model translates ``direction`` = ``"en-zh"`` (the shipped one) or ``"zh-en"`` (used to
back-translate monolingual Chinese). `prepare` is direction-free: it writes both sides and
one SentencePiece model per language; training and inference pick source and target.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hanyi.tokenization.normalize import detokenize_zh, normalize_en, normalize_zh
from hanyi.tokenization.vocab import Vocab

# `prepare` names its models by the side of the data (it predates zh-en models).
PREPARED_SPM = {"en": "src.model", "zh": "tgt.model"}


def languages(direction: str) -> tuple[str, str]:
    """``"zh-en"`` -> ``("zh", "en")``."""
    src, tgt = direction.split("-")
    return src, tgt


def normalizer(lang: str) -> Callable[[str], str]:
    """How `prepare` normalised that side; applied to every input at inference too."""
    return normalize_en if lang == "en" else normalize_zh


def detokenizer(lang: str) -> Callable[[str], str]:
    """Decoded SentencePiece text -> output text: spaces that mean nothing in Chinese go;
    English keeps SentencePiece's spacing."""
    return detokenize_zh if lang == "zh" else str.strip


def load_vocabs(folder: Path, direction: str, split_punctuation: bool,
                names: tuple[str, str] = ("src.model", "tgt.model")) -> tuple[Vocab, Vocab]:
    """Source and target vocabularies from ``folder/names``. ``split_punctuation`` (for
    word-level models, as in configs/seed.yaml) belongs to the English side, whichever that is."""
    src, tgt = languages(direction)
    return (Vocab.from_file(folder / names[0], split_punctuation=split_punctuation and src == "en"),
            Vocab.from_file(folder / names[1], split_punctuation=split_punctuation and tgt == "en"))


def load_prepared_vocabs(prepared: Path, direction: str,
                         split_punctuation: bool) -> tuple[Vocab, Vocab]:
    """The vocabularies a model of ``direction`` trains with, from a `prepare` folder."""
    src, tgt = languages(direction)
    return load_vocabs(prepared, direction, split_punctuation,
                       (PREPARED_SPM[src], PREPARED_SPM[tgt]))
