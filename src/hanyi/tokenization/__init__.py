"""Text normalisation, SentencePiece models and the Vocab that owns special ids."""

from hanyi.tokenization.normalize import detokenize_zh, normalize_en, normalize_zh
from hanyi.tokenization.vocab import Vocab

__all__ = ["Vocab", "detokenize_zh", "normalize_en", "normalize_zh"]
