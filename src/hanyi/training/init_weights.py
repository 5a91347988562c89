"""Continued training: a run that starts from the weights of a model directory
(`train.init_from`) instead of a random initialisation.

The run's vocabularies must be the model's own (`tokenizer.from_model` copies them), or the
model's own with pieces *added* at the end (`tokenizer.slot_symbols` with `from_model`:
the 99 slot numbers as pieces of their own, tokenization/sentencepiece.py `with_symbols`).
Every existing id keeps its meaning then, so every weight is reused; only the embedding
rows of the new pieces are new (the source embedding, and the target embedding, which is
also the output layer when they are tied). A new piece's row starts as the mean of the
rows of the pieces the model wrote it with before (``7301`` was ``▁7 30 1``): the model
already reads and writes the number that way, so the new row starts near what it means
rather than at random. (A new token as the mean of its old tokenization's embeddings is
Fast Vocabulary Transfer, Gee et al., 2022; Hewitt, 2021, argues for averages over random
rows in general.) A caveat, measured: the 99 slot numbers share most of their old pieces,
so their rows start nearly equal, and 741 updates with 5% slot pairs did not pull them
apart (docs/RESULTS.md, "Glossary").
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from sentencepiece import sentencepiece_model_pb2

from hanyi.checkpoint import load_state, read_folder_weights
from hanyi.errors import ConfigError, ModelLoadError
from hanyi.tokenization.sentencepiece import with_symbols
from hanyi.tokenization.vocab import Vocab

log = logging.getLogger(__name__)

# the weights whose rows are the pieces of one vocabulary
_ROWS = {"src.model": ("src_embed.weight",), "tgt.model": ("tgt_embed.weight",
                                                           "output_proj.weight")}


def added_pieces(theirs: bytes, ours: bytes) -> list[str] | None:
    """The pieces ``ours`` adds at the end of ``theirs`` (``[]``: the same model), or None
    when ``ours`` is not ``theirs`` with pieces added."""
    if theirs == ours:
        return []
    old, new = sentencepiece_model_pb2.ModelProto(), sentencepiece_model_pb2.ModelProto()
    old.ParseFromString(theirs)
    new.ParseFromString(ours)
    extra = tuple(p.piece for p in new.pieces[len(old.pieces):])
    if not extra or with_symbols(theirs, extra) != ours:
        return None
    return list(extra)


def grow_rows(table: torch.Tensor, pieces: list[str], vocab: Vocab) -> torch.Tensor:
    """``table`` (V, D) with one row appended per piece: the mean of the rows of the ids
    ``vocab`` (the old vocabulary) encodes that piece's text into -> (V + len(pieces), D)."""
    table = table.float()  # a release stores float16
    rows = [table[vocab.encode(piece)].mean(dim=0) for piece in pieces]  # each (D,)
    return torch.cat([table, torch.stack(rows)]) if rows else table


def init_weights(model, folder: Path, src_vocab: Vocab, tgt_vocab: Vocab) -> None:
    """Load the weights of the model directory ``folder`` into ``model``: same
    architecture, and the same vocabularies or those with pieces added (see above)."""
    folder = Path(folder)
    grown: dict[str, tuple[list[str], Vocab]] = {}
    for name, vocab in (("src.model", src_vocab), ("tgt.model", tgt_vocab)):
        theirs = folder / name
        if not theirs.is_file():
            raise ConfigError(f"train.init_from: {theirs} not found (init_from names a model "
                              f"directory: a run's best/ or averaged/, or a release)")
        pieces = added_pieces(theirs.read_bytes(), vocab.model_proto)
        if pieces is None:
            raise ConfigError(f"train.init_from: {theirs} is not the vocabulary this run "
                              f"trains with (nor it with pieces added); prepare the data "
                              f"with tokenizer.from_model: {folder}")
        if pieces:
            grown[name] = (pieces, Vocab(theirs.read_bytes()))
    try:
        state = read_folder_weights(folder)
        for name, (pieces, old_vocab) in grown.items():
            for key in _ROWS[name]:
                if key in state:  # tied: saved once, load_state puts it under both names
                    state[key] = grow_rows(state[key], pieces, old_vocab)
        load_state(model, state, folder / "model.safetensors")
    except ModelLoadError as exc:
        raise ConfigError(f"train.init_from: {exc} (the model section must match "
                          f"{folder / 'config.yaml'})") from None
    log.info("initialised the weights from %s%s", folder, "".join(
        f"; {len(p)} {name} pieces added, each the mean of its old pieces' rows"
        for name, (p, _) in grown.items()))
