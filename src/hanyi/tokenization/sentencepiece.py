"""Training SentencePiece models (called by `hanyi prepare`)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

from hanyi.errors import ConfigError

log = logging.getLogger(__name__)

# The one place where special ids are fixed; everything else reads them from the Vocab.
SPECIAL_IDS = {"pad_id": 0, "unk_id": 1, "bos_id": 2, "eos_id": 3}


def train_sentencepiece(
    lines: list[str],
    out_path: Path,
    vocab_size: int,
    model_type: str,
    character_coverage: float,
    max_sentences: int,
    normalization: str = "nmt_nfkc",
    symbols: tuple[str, ...] = (),
    seed_pieces: int | None = None,
) -> Path:
    """Train a SentencePiece model on ``lines`` and write it to ``out_path`` (.model).

    ``normalization="identity"`` must be used for Chinese: SentencePiece's default NFKC rule
    would turn full-width ，。？！ into ASCII inside the model, and decoding would emit ASCII.

    ``hard_vocab_limit`` is off, so a small corpus yields a smaller vocabulary instead of
    an error; `word` and `char` model types give configs/seed.yaml's word/char vocabularies.

    ``symbols`` become one piece each wherever they occur (SentencePiece's
    ``user_defined_symbols``): `prepare` passes the slot numbers with
    ``tokenizer.slot_symbols``.

    A unigram model starts from ``seed_pieces`` candidate pieces (None: ten times
    ``vocab_size``; see ``TokenizerConfig.seed_pieces``).
    """
    model = io.BytesIO()
    try:
        _train(lines, model, vocab_size, model_type, character_coverage, max_sentences,
               normalization, symbols, seed_pieces or 10 * vocab_size)
    except RuntimeError as exc:  # SentencePiece reports bad settings as RuntimeError
        reason = str(exc).splitlines()[0]
        raise ConfigError(f"SentencePiece training for {out_path.name} failed: "
                          f"{reason.split('] ')[-1]}") from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(model.getvalue())
    log.info("trained %s SentencePiece (%d pieces asked) -> %s", model_type, vocab_size, out_path)
    return out_path


def _train(lines, model, vocab_size, model_type, character_coverage, max_sentences,
           normalization, symbols, seed_pieces) -> None:
    unigram = {"seed_sentencepiece_size": seed_pieces} if model_type == "unigram" else {}
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        input_sentence_size=max_sentences,
        shuffle_input_sentence=False,  # deterministic: we hand it the whole (shuffled) split
        hard_vocab_limit=False,
        num_threads=2,
        minloglevel=2,
        max_sentence_length=4096,
        normalization_rule_name=normalization,
        user_defined_symbols=list(symbols),
        **SPECIAL_IDS,
        **unigram,
    )


def with_symbols(model_proto: bytes, symbols: tuple[str, ...]) -> bytes:
    """A trained SentencePiece model with ``symbols`` added as pieces of their own (type
    USER_DEFINED, ids after the existing ones; those it has already are skipped). Every
    text without them keeps its ids: user-defined pieces are matched before the model's
    own segmentation, and only where they occur."""
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(model_proto)
    have = {piece.piece for piece in model.pieces}
    for symbol in symbols:
        if symbol not in have:
            piece = model.pieces.add()
            piece.piece, piece.score = symbol, 0.0
            piece.type = sentencepiece_model_pb2.ModelProto.SentencePiece.USER_DEFINED
    return model.SerializeToString()
