"""`prepare` on a small synthetic fixture: filters counted with file:line, exact-pair dedupe,
held-out English never in training, determinism, script and punctuation normalisation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import synthetic_sentences

from hanyi.config import DataConfig, SourceConfig, TokenizerConfig
from hanyi.data.corpus import Rejects, english_key, read_raw
from hanyi.data.prepare import prepare
from hanyi.errors import ConfigError, DataError


def write_fixture(root: Path) -> None:
    en, zh = synthetic_sentences(300, seed=1)
    lines = [f"{e}\t{z}" for e, z in zip(en, zh, strict=True)]
    lines += [
        "Where is the station?\t車站在哪裡?",  # Traditional + ASCII '?' -> 车站在哪里？
        "Hello.\t你好。\tCC-BY attribution",  # 3 fields in a 2-field file
        "just english\tjust english",  # no Chinese
        "\t空的",  # empty English
        "x" * 400 + "\t太长了",  # too long
        "A very long English sentence that is far too long for this.\t是",  # ratio
    ]
    data = "\ufeff" + "\n".join(lines)  # BOM, and no trailing newline
    (root / "pool.tsv").write_bytes(data.encode("utf-8") + b"\n\xff\xfe broken\tline")
    (root / "extra.en").write_text("I like tea.\nThe cat sleeps.\n", encoding="utf-8")
    (root / "extra.zh").write_text("我喜欢茶。\n猫在睡觉。\n", encoding="utf-8")


def config(root: Path, out: Path, seed: int = 7) -> DataConfig:
    return DataConfig(root=str(root), dir=str(out), dev_size=20, test_size=20, seed=seed,
                      sources=[SourceConfig(name="pool", path="pool.tsv", role="pool"),
                               SourceConfig(name="extra", path="extra", format="parallel")])


TOKENIZER = TokenizerConfig(src_vocab_size=60, tgt_vocab_size=80)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    write_fixture(root)
    out = root / "prepared"
    stats = prepare(config(root, out), TOKENIZER)
    return root, out, stats


def read(out: Path, name: str) -> list[str]:
    return (out / name).read_text(encoding="utf-8").splitlines()


def test_every_filter_is_counted_with_file_and_line(prepared):
    root, out, stats = prepared
    assert stats["filters"]["fields"] == 1
    assert stats["filters"]["no_han"] == 1
    assert stats["filters"]["empty"] == 1
    assert stats["filters"]["too_long"] == 1
    assert stats["filters"]["ratio"] == 1
    assert stats["filters"]["utf8"] == 1
    rejects = read(out, "rejects.tsv")
    assert any(r.startswith(f"{root / 'pool.tsv'}:302\tfields") for r in rejects)
    assert any(r.startswith(f"{root / 'pool.tsv'}:307\tutf8") for r in rejects)


def test_exact_duplicate_pairs_are_removed_and_counted(prepared):
    _, out, stats = prepared
    assert stats["filters"]["duplicate"] > 0  # 300 draws from 30 possible pairs
    pairs = list(zip(read(out, "train.en"), read(out, "train.zh"), strict=True))
    assert len(pairs) == len(set(pairs))
    # 307 records; the malformed two (fields, utf8) are counted as dropped, not read
    assert stats["sources"]["pool"]["read"] == 305


def test_no_dev_or_test_english_in_training(prepared):
    _, out, stats = prepared
    train = {english_key(e) for e in read(out, "train.en")}
    held = [english_key(e) for e in read(out, "dev.en") + read(out, "test.en")]
    assert held and not train & set(held)
    assert len(held) == len(set(held))  # one pair per English sentence
    assert stats["held_out"]["train_pairs_removed_as_leaks"] >= 0
    assert json.loads((out / "stats.json").read_text())["splits"]["dev"] == len(read(out, "dev.en"))


def test_chinese_is_simplified_with_full_width_punctuation(prepared):
    _, out, _ = prepared
    everything = dict(zip(read(out, "train.en") + read(out, "dev.en") + read(out, "test.en"),
                          read(out, "train.zh") + read(out, "dev.zh") + read(out, "test.zh"),
                          strict=True))
    assert everything["Where is the station?"] == "车站在哪里？"
    assert "I like tea." in everything  # the parallel source is read too


def test_splits_are_deterministic_from_the_seed(prepared, tmp_path):
    root, out, _ = prepared
    again = tmp_path / "again"
    prepare(config(root, again), TOKENIZER)
    for name in ("train.en", "dev.en", "test.zh"):
        assert read(again, name) == read(out, name)
    other = tmp_path / "other"
    prepare(config(root, other, seed=8), TOKENIZER)
    assert read(other, "dev.en") != read(out, "dev.en")


def test_misaligned_parallel_files_are_an_error(tmp_path):
    (tmp_path / "bad.en").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "bad.zh").write_text("一\n", encoding="utf-8")
    cfg = DataConfig(root=str(tmp_path), dir=str(tmp_path / "out"),
                     sources=[SourceConfig(name="bad", path="bad", format="parallel")])
    with pytest.raises(DataError, match="line-aligned"):
        prepare(cfg, TOKENIZER)


def test_a_parallel_line_with_bad_utf8_is_one_reject_naming_each_bad_side(tmp_path):
    (tmp_path / "p.en").write_bytes(b"good one\nbad \xff both\nfine\ngood four\n")
    (tmp_path / "p.zh").write_bytes(b"\xe5\xa5\xbd\nbad \xfe\n\xc3 bad\n\xe5\xa5\xbd\n")
    rejects = Rejects()
    pairs = list(read_raw(SourceConfig(name="p", path="p", format="parallel"), tmp_path, rejects))
    assert [p.origin for p in pairs] == [f"{tmp_path / 'p.en'}:1", f"{tmp_path / 'p.en'}:4"]
    assert rejects.counts["utf8"] == 2  # lines 2 and 3: one pair each, though line 2 has two
    both, zh_only = rejects.log
    assert both.startswith(f"{tmp_path / 'p.en'}:2\tutf8") and "p.zh:2 byte 4" in both
    assert zh_only.startswith(f"{tmp_path / 'p.zh'}:3\tutf8") and "p.en" not in zh_only


def test_missing_source_file_is_an_error(tmp_path):
    cfg = DataConfig(root=str(tmp_path), dir=str(tmp_path / "out"),
                     sources=[SourceConfig(name="x", path="nope.tsv")])
    with pytest.raises(DataError, match="nope.tsv"):
        prepare(cfg, TOKENIZER)


def test_a_missing_source_is_found_before_any_source_is_read(tmp_path, monkeypatch):
    """A typo in a config's last source must not wait for the minutes of reading the rest."""
    write_fixture(tmp_path)
    cfg = config(tmp_path, tmp_path / "out")
    cfg.sources.append(SourceConfig(name="bt", path="bt/wiki", format="parallel"))
    cfg.sources.append(SourceConfig(name="docs", path="docs-po", format="po"))
    read = []
    monkeypatch.setattr("hanyi.data.corpus._raw_lines", lambda path: read.append(path))
    with pytest.raises(DataError, match=r"bt/wiki\.en"):
        prepare(cfg, TOKENIZER)
    (tmp_path / "bt").mkdir()
    for side in ("en", "zh"):
        (tmp_path / "bt" / f"wiki.{side}").write_text("x\n", encoding="utf-8")
    with pytest.raises(DataError, match="catalogue.*docs-po"):
        prepare(cfg, TOKENIZER)
    assert read == [] and not (tmp_path / "out").exists()


def test_an_empty_split_is_an_error_and_a_short_one_a_warning(tmp_path, caplog):
    write_fixture(tmp_path)
    only_train = DataConfig(root=str(tmp_path), dir=str(tmp_path / "out"),
                            sources=[SourceConfig(name="extra", path="extra",
                                                  format="parallel")])
    with pytest.raises(ConfigError, match="test split is empty"):
        prepare(only_train, TOKENIZER)
    greedy = config(tmp_path, tmp_path / "out2")
    greedy.test_size = 10_000  # the pool has ~300 distinct sentences: dev is left empty
    with pytest.raises(ConfigError, match="dev split is empty"):
        prepare(greedy, TOKENIZER)
    short = config(tmp_path, tmp_path / "out3")
    short.dev_size = 10_000
    with caplog.at_level("WARNING", logger="hanyi.data.prepare"):
        stats = prepare(short, TOKENIZER)
    assert stats["splits"]["dev"] < 10_000
    assert "fewer than data.dev_size = 10000" in caplog.text


# ------------------------------------------------- fixed held-out sets, exact leak counts
TRAIN_LINES = [
    "\ufeffHello there.\t你好。",  # 1 BOM on the first line
    "See you, Tom.\t再见，汤姆。",  # 2 the exact pair of a test sentence -> duplicate
    "see   you, TOM.\t回头见，汤姆。",  # 3 the test English (case, spaces) -> leak
    "Good night.\t晚安。",  # 4 the exact pair of a dev sentence -> duplicate
    "GOOD night.\t晚安了。",  # 5 the dev English -> leak
    "I like tea.\t我喜欢茶。",  # 6
    "I like tea.\t我喜欢茶。",  # 7 exact duplicate of line 6
    "Thank you.\t謝謝你!",  # 8 Traditional + ASCII '!' -> 谢谢你！
    "No tab here",  # 9 one field
    "Why?\t為什麼?",  # 10 no trailing newline
]


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("held")
    (root / "train.tsv").write_text("\n".join(TRAIN_LINES), encoding="utf-8")
    (root / "dev.tsv").write_text("Good night.\t晚安。\nHow are you?\t你好吗？\n", "utf-8")
    (root / "test.tsv").write_text("See you, Tom.\t再见，汤姆。\nHow are you?\t你还好吗?\n",
                                   "utf-8")
    # training sources listed first: held-out sets must not depend on the order
    cfg = DataConfig(root=str(root), dir=str(root / "out"), seed=3, sources=[
        SourceConfig(name="train", path="train.tsv", role="train"),
        SourceConfig(name="dev", path="dev.tsv", role="dev"),
        SourceConfig(name="test", path="test.tsv", role="test")])
    return root, root / "out", prepare(cfg, TokenizerConfig(src_vocab_size=40,
                                                            tgt_vocab_size=40))


def test_fixed_held_out_sets_are_kept_whole_and_their_english_leaves_training(held_out):
    _, out, stats = held_out
    assert read(out, "test.en") == ["See you, Tom.", "How are you?"]
    assert read(out, "test.zh") == ["再见，汤姆。", "你还好吗？"]
    assert read(out, "dev.en") == ["Good night."]  # "How are you?" is a test sentence
    assert stats["held_out"]["dev_dropped_in_test"] == 1
    assert stats["held_out"]["train_pairs_removed_as_leaks"] == 2  # lines 3 and 5
    assert sorted(read(out, "train.en")) == ["Hello there.", "I like tea.", "Thank you.", "Why?"]


def test_duplicates_and_bad_fields_are_logged_with_file_and_line(held_out):
    root, out, stats = held_out
    assert stats["filters"] == {"duplicate": 3, "fields": 1}
    rejects = read(out, "rejects.tsv")
    train = root / "train.tsv"
    assert sorted(r.split("\t")[0] for r in rejects) == sorted(
        [f"{train}:2", f"{train}:4", f"{train}:7", f"{train}:9"])
    assert stats["sources"]["train"]["dropped"] == {"duplicate": 3, "fields": 1}


def test_bom_last_line_and_script_are_normalised(held_out):
    _, out, _ = held_out
    pairs = dict(zip(read(out, "train.en"), read(out, "train.zh"), strict=True))
    assert pairs["Hello there."] == "你好。"  # no BOM left on the first English sentence
    assert pairs["Why?"] == "为什么？"  # last line without a newline is read; t2s + full width
    assert pairs["Thank you."] == "谢谢你！"


def test_slot_pairs_are_added_to_training_only(tmp_path):
    import dataclasses

    write_fixture(tmp_path)
    (tmp_path / "dict.txt").write_text("睡覺 睡觉 [shui4 jiao4] /sleeps/\n", encoding="utf-8")
    cfg = dataclasses.replace(config(tmp_path, tmp_path / "out"), slot_pairs=1.0,
                              slot_lexicon="dict.txt")
    stats = prepare(cfg, TOKENIZER)
    sources = read(tmp_path / "out", "train.src")
    assert stats["slot_pairs"] == sources.count("slots") > 0
    assert "slots" not in read(tmp_path / "out", "dev.src") + read(tmp_path / "out", "test.src")
    slotted = [e for e, s in zip(read(tmp_path / "out", "train.en"), sources, strict=True)
               if s == "slots"]
    assert all(any(w.startswith("73") and w.strip(".?!").isdigit() for w in e.split())
               for e in slotted)
