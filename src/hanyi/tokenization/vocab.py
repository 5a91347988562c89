"""`Vocab`: the single source of truth for token ids, special ids included.

A Vocab wraps one trained SentencePiece model. SentencePiece is trained by `prepare` with
fixed special ids (``pad=0, unk=1, bos=2, eos=3``), but nothing else in hanyi relies on
those numbers: the model, the batches and the search all ask a Vocab.

A character that no piece holds would become ``<unk>``: the model cannot read it, and
what it learnt to do with one is to write ``<unk>`` back, which prints as "⁇" ("Erkoç",
"São Paulo", "7–2" in FLORES). Before encoding, such a character is folded to a form the
pieces do hold where one exists ("ã" -> "a", "–" -> "-"; normalize.fold_to_known), in
`prepare` and at inference alike.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import sentencepiece as spm

from hanyi.errors import ModelLoadError
from hanyi.tokenization.normalize import fold_char, split_en_punctuation


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
        specials = {self.pad_id, self.bos_id, self.eos_id, self.unk_id}
        self.chars = frozenset(  # every character some piece holds ("▁" is the space)
            " " + "".join(self.sp.IdToPiece(i) for i in range(len(self)) if i not in specials))
        # one character no piece holds (a regex: 7x faster than a set test on Chinese)
        self._unheld = re.compile("[^" + "".join(map(re.escape, sorted(self.chars))) + "]")

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

    def fold(self, text: str) -> str:
        """``text`` with each character no piece holds folded to one the pieces hold, where
        one exists (see the module docstring); any other character is left as it is."""
        if text.isascii() or not self._unheld.search(text):  # nearly every text
            return text
        return self._unheld.sub(lambda m: fold_char(m.group(), self.chars), text)

    def encode(self, text: str) -> list[int]:
        """Normalised text -> ids, without bos/eos."""
        text = self.fold(text)
        if self.split_punctuation:
            text = split_en_punctuation(text)
        return self.sp.EncodeAsIds(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        texts = [self.fold(t) for t in texts]
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
