"""`Vocab`: the single source of truth for token ids, special ids included.

A Vocab wraps one trained SentencePiece model. SentencePiece is trained by `prepare` with
fixed special ids (``pad=0, unk=1, bos=2, eos=3``), but nothing else in hanyi relies on
those numbers: the model, the batches and the search all ask a Vocab.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import sentencepiece as spm

from hanyi.errors import ModelLoadError
from hanyi.tokenization.normalize import split_en_punctuation


class Vocab:
    """Token <-> id mapping backed by a SentencePiece model.

    ``split_punctuation`` pre-splits punctuation from words before encoding; it is used by
    word-level English vocabularies (configs/seed.yaml's recipe) and must match training.
    """

    def __init__(self, model_proto: bytes, split_punctuation: bool = False):
        self.model_proto = model_proto
        self.split_punctuation = split_punctuation
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.LoadFromSerializedProto(model_proto)
        except Exception as exc:  # sentencepiece raises RuntimeError/OSError variants
            raise ModelLoadError(f"not a SentencePiece model ({exc})") from None
        self.pad_id = self.sp.pad_id()
        self.unk_id = self.sp.unk_id()
        self.bos_id = self.sp.bos_id()
        self.eos_id = self.sp.eos_id()
        if min(self.pad_id, self.bos_id, self.eos_id, self.unk_id) < 0:
            raise ModelLoadError("SentencePiece model lacks pad/bos/eos/unk ids")

    @classmethod
    def from_file(cls, path: str | Path, split_punctuation: bool = False) -> Vocab:
        path = Path(path)
        if not path.is_file():
            raise ModelLoadError(f"SentencePiece model not found: {path}")
        try:
            return cls(path.read_bytes(), split_punctuation)
        except ModelLoadError as exc:
            raise ModelLoadError(f"{path}: {exc}") from None

    def __len__(self) -> int:
        return self.sp.GetPieceSize()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.model_proto).hexdigest()

    def encode(self, text: str) -> list[int]:
        """Normalised text -> ids, without bos/eos."""
        if self.split_punctuation:
            text = split_en_punctuation(text)
        return self.sp.EncodeAsIds(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        if self.split_punctuation:
            texts = [split_en_punctuation(t) for t in texts]
        return self.sp.EncodeAsIds(texts)

    def decode(self, ids: list[int]) -> str:
        specials = (self.pad_id, self.bos_id, self.eos_id)
        return self.sp.DecodeIds([i for i in ids if i not in specials])

    def pieces(self, ids: list[int]) -> list[str]:
        return [self.sp.IdToPiece(i) for i in ids]

    def ids(self, pieces: list[str]) -> list[int]:
        """The inverse of :meth:`pieces` (an unknown piece gives ``unk_id``)."""
        return [self.sp.PieceToId(p) for p in pieces]

    def tokens(self) -> list[str]:
        """All pieces in id order (used by the CTranslate2 export)."""
        return [self.sp.IdToPiece(i) for i in range(len(self))]
