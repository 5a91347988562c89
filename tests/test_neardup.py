"""Near-duplicate detection and the honest held-out sets built with it (data/prepare.py):
no dev/test sentence within one word of a training sentence, none near an excluded set."""

from __future__ import annotations

from pathlib import Path

import pytest

from hanyi.config import DataConfig, SourceConfig, TokenizerConfig
from hanyi.data.corpus import english_key
from hanyi.data.neardup import NearDuplicateIndex, Probe
from hanyi.data.prepare import prepare


def test_a_bag_ignores_case_order_and_punctuation():
    assert Probe.of("Tom isn't here.") == Probe.of("here, TOM isn't!")
    assert Probe.of("Tom isn't here.") != Probe.of("Tom is here.")
    assert Probe.of("...").words == 0


@pytest.mark.parametrize("other, near", [
    ("Tom is my friend.", True),  # identical
    ("Is Tom my friend?", True),  # same bag
    ("Tom is my best friend.", True),  # one word added
    ("Tom is friend.", True),  # one word removed
    ("Tom is my enemy.", True),  # one replaced
    ("Tom is my very best friend.", False),  # two added
    ("Mary is my best friend.", False),  # one replaced, one added
    ("Mary is her friend.", False),  # two replaced
])
def test_within_one_word(other, near):
    index = NearDuplicateIndex(["Tom is my friend.", "Something else entirely here."])
    assert (index.matches(other) == {0}) is near


def test_repeated_words_count_as_words():
    index = NearDuplicateIndex(["no no no"])
    assert index.matches("no no") == {0}
    assert index.matches("no no yes") == {0}
    assert index.matches("no") == set()


def _write(root: Path, name: str, pairs: list[tuple[str, str]]) -> None:
    (root / name).write_text("".join(f"{e}\t{z}\n" for e, z in pairs), encoding="utf-8")


@pytest.fixture(scope="module")
def near_fixture(tmp_path_factory):
    """A pool whose sentences come in near-duplicate pairs and singletons."""
    root = tmp_path_factory.mktemp("near")
    pool = []
    for i in range(60):  # 60 singletons: no neighbour (two words differ from any other)
        pool.append((f"alpha{i} beta{i} gamma{i} delta{i}.", f"甲{i}乙丙丁。"))
    for i in range(60):  # 60 pairs of neighbours: the second has one word more
        pool.append((f"red{i} green{i} blue{i}.", f"红{i}绿蓝。"))
        pool.append((f"red{i} green{i} blue{i} now.", f"红{i}绿蓝了。"))
    _write(root, "pool.tsv", pool)
    _write(root, "general.tsv", [("The general dev sentence is here.", "一般开发句子。")])
    _write(root, "train.tsv", [("The general dev sentence is right here.", "训练句子。"),
                               ("A plain training sentence.", "普通的句子。")])
    cfg = DataConfig(root=str(root), dir=str(root / "out"), dev_size=40, test_size=40, seed=5,
                     sources=[SourceConfig(name="pool", path="pool.tsv", role="pool"),
                              SourceConfig(name="train", path="train.tsv"),
                              SourceConfig(name="general", path="general.tsv",
                                           role="exclude")])
    stats = prepare(cfg, TokenizerConfig(src_vocab_size=200, tgt_vocab_size=150))
    return root / "out", stats


def _lines(out: Path, name: str) -> list[str]:
    return (out / name).read_text(encoding="utf-8").splitlines()


def test_held_out_sentences_have_no_near_duplicate_in_training(near_fixture):
    out, stats = near_fixture
    train = _lines(out, "train.en")
    for split in ("dev", "test"):
        held = _lines(out, f"{split}.en")
        assert held, split
        index = NearDuplicateIndex(held)
        assert not any(index.matches(en) for en in train), split
    moved = stats["held_out"]["near_duplicates_moved_out"]
    # 80 candidates; about half of the pool are halves of near-duplicate pairs
    assert moved["dev"] + moved["test"] > 10
    assert stats["held_out"]["dev"] + moved["dev"] == 40


def test_moved_candidates_go_back_to_training(near_fixture):
    out, _ = near_fixture
    everything = _lines(out, "train.en") + _lines(out, "dev.en") + _lines(out, "test.en")
    assert len(everything) == 60 + 120 + 1  # every pool pair + the plain training pair


def test_excluded_sets_and_their_near_duplicates_stay_out_of_training(near_fixture):
    out, stats = near_fixture
    train = [english_key(e) for e in _lines(out, "train.en")]
    assert "the general dev sentence is right here." not in train
    assert "a plain training sentence." in train
    assert stats["held_out"]["train_pairs_removed_near_excluded"] == {"train": 1}
    assert not (out / "exclude.en").exists()


def test_training_pairs_know_their_source(near_fixture):
    out, _ = near_fixture
    names = _lines(out, "train.src")
    assert len(names) == len(_lines(out, "train.en"))
    assert set(names) == {"pool", "train"}
