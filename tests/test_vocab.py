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
    assert model.src_ids == (src.pad_id, src.bos_id, src.eos_id, src.unk_id)
    assert model.tgt_ids == (tgt.pad_id, tgt.bos_id, tgt.eos_id, tgt.unk_id)
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


def test_slot_symbols_are_one_piece_and_text_round_trips(tmp_path):
    from helpers import synthetic_sentences

    from hanyi.tokenization import Vocab
    from hanyi.tokenization.sentencepiece import train_sentencepiece

    en, _ = synthetic_sentences(400)
    en += [f"Tom read {n} books in {n * 7} days." for n in range(1, 400, 3)]  # digits too
    symbols = tuple(str(n) for n in range(7301, 7400))
    plain = Vocab.from_file(train_sentencepiece(en, tmp_path / "a.model", 160, "unigram", 1.0,
                                                10_000))
    slotted = Vocab.from_file(train_sentencepiece(en, tmp_path / "b.model", 160, "unigram",
                                                  1.0, 10_000, symbols=symbols))
    text = "Tom read 7301 books 7399 in 173015 days."
    assert len(plain.encode("7301")) > 1  # digits: several pieces without the symbols
    assert [p.strip("▁") for p in slotted.pieces(slotted.encode("tea 7301"))][-1] == "7301"
    assert slotted.decode(slotted.encode(text)) == text  # a number that holds one: lossless
    assert slotted.encode("7301 7302") != plain.encode("7301 7302")


def test_slot_pieces_added_to_a_trained_vocabulary_keep_every_other_text_s_ids(toy_vocabs,
                                                                              tmp_path):
    from hanyi.tokenization import Vocab
    from hanyi.tokenization.sentencepiece import with_symbols

    src, _ = toy_vocabs
    symbols = tuple(str(n) for n in range(7301, 7400))
    wider = Vocab(with_symbols(src.model_proto, symbols))
    assert len(wider) == len(src) + 99
    assert Vocab(with_symbols(wider.model_proto, symbols)).sha256 == wider.sha256  # none twice
    for text in ["Tom like tea.", "we read books.", "Mary love music."]:
        assert wider.encode(text) == src.encode(text)
    slot = [p for p in wider.pieces(wider.encode("Tom like 7301 tea.")) if "7301" in p]
    assert slot == ["7301"]
    assert wider.ids(["7301"])[0] >= len(src)  # new ids after the old ones


def test_seed_pieces_reach_sentencepiece_and_bad_values_are_refused(tmp_path, monkeypatch):
    """tokenizer.seed_pieces is SentencePiece's seed_sentencepiece_size (None: ten times the
    vocabulary); it means nothing to the other model types, and too few are refused."""
    import pytest

    from hanyi.config.sections import TokenizerConfig
    from hanyi.errors import ConfigError
    from hanyi.tokenization import sentencepiece as spm_module

    seen = []
    monkeypatch.setattr(spm_module.spm.SentencePieceTrainer, "train",
                        lambda **kw: seen.append(kw.get("seed_sentencepiece_size")))
    for model_type, seed, want in (("unigram", None, 1600), ("unigram", 5000, 5000),
                                   ("bpe", 5000, None), ("char", None, None)):
        spm_module.train_sentencepiece(["a b"], tmp_path / "x.model", 160, model_type, 1.0,
                                       10, seed_pieces=seed)
        assert seen.pop() == want, (model_type, seed)
    assert TokenizerConfig(seed_pieces=80_001).seed_pieces == 80_001
    with pytest.raises(ConfigError, match="seed_pieces"):
        TokenizerConfig(src_vocab_size=8000, seed_pieces=8000)
    with pytest.raises(ConfigError, match="max_sentences"):
        TokenizerConfig(max_sentences=0)
    # the tokenizers' sample: 12.5 sentences a piece of the larger vocabulary unless given
    assert TokenizerConfig().sample_sentences == 100_000
    assert TokenizerConfig(src_vocab_size=8000, tgt_vocab_size=32000).sample_sentences == 400_000
    assert TokenizerConfig(max_sentences=7).sample_sentences == 7
