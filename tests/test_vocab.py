"""The Vocab owns the special ids; SentencePiece round trips."""

from __future__ import annotations


def test_vocab_owns_special_ids_and_round_trips(toy_vocabs):
    src, tgt = toy_vocabs
    assert (src.pad_id, src.unk_id, src.bos_id, src.eos_id) == (0, 1, 2, 3)
    assert tgt.decode(tgt.encode("我喜欢茶。")) == "我喜欢茶。"  # full-width kept
    assert tgt.pieces([tgt.eos_id]) == ["</s>"]
    assert len(src.sha256) == 64


def test_english_round_trip_and_batch_encoding(toy_vocabs):
    src, _ = toy_vocabs
    sentences = ["Tom like tea.", "we read books.", "Mary love music."]
    assert [src.decode(src.encode(s)) for s in sentences] == sentences
    assert src.encode_batch(sentences) == [src.encode(s) for s in sentences]
    assert all(i not in (src.pad_id, src.bos_id, src.eos_id) for s in sentences
               for i in src.encode(s))  # encode adds no specials: the batch code does


def test_decode_drops_specials_and_pieces_name_them(toy_vocabs):
    _, tgt = toy_vocabs
    ids = tgt.encode("我喜欢茶。")
    assert tgt.decode([tgt.bos_id, *ids, tgt.eos_id, tgt.pad_id, tgt.pad_id]) == "我喜欢茶。"
    specials = [tgt.pad_id, tgt.unk_id, tgt.bos_id, tgt.eos_id]
    assert tgt.pieces(specials) == ["<pad>", "<unk>", "<s>", "</s>"]
    assert len(set(specials)) == 4 and tgt.tokens()[tgt.eos_id] == "</s>"


def test_the_model_takes_its_special_ids_from_the_vocab(toy_vocabs, small_model_config):
    from hanyi.model import build_model

    src, tgt = toy_vocabs
    model = build_model(small_model_config, src, tgt)
    assert model.src_ids == (src.pad_id, src.bos_id, src.eos_id)
    assert model.tgt_ids == (tgt.pad_id, tgt.bos_id, tgt.eos_id)
    assert model.output_proj.out_features == len(tgt)


def test_unreadable_sentencepiece_models_are_model_load_errors(tmp_path):
    import pytest

    from hanyi.errors import ModelLoadError
    from hanyi.tokenization import Vocab

    with pytest.raises(ModelLoadError, match="not found"):
        Vocab.from_file(tmp_path / "none.model")
    (tmp_path / "bad.model").write_bytes(b"\x00garbage")
    with pytest.raises(ModelLoadError, match="bad.model"):
        Vocab.from_file(tmp_path / "bad.model")


def test_split_punctuation_vocab_splits_before_encoding(toy_vocabs):
    from hanyi.tokenization import Vocab

    src, _ = toy_vocabs
    split = Vocab(src.model_proto, split_punctuation=True)
    assert split.encode("Tom like tea.") == src.encode("Tom like tea .")
