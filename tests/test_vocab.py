"""The Vocab owns the special ids; SentencePiece round trips."""

from __future__ import annotations


def test_vocab_owns_special_ids_and_round_trips(toy_vocabs):
    src, tgt = toy_vocabs
    assert (src.pad_id, src.unk_id, src.bos_id, src.eos_id) == (0, 1, 2, 3)
    assert tgt.decode(tgt.encode("我喜欢茶。")) == "我喜欢茶。"  # full-width kept
    assert tgt.pieces([tgt.eos_id]) == ["</s>"]
    assert len(src.sha256) == 64
