"""Checkpoints: round trip gives identical outputs, resume equals an uninterrupted run,
atomic writes, and corrupt or missing files give ModelLoadError."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
from helpers import synthetic_sentences

from hanyi import checkpoint, files
from hanyi.checkpoint import load_model_dir, load_training_state, save_checkpoint
from hanyi.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    SourceConfig,
    TokenizerConfig,
    TrainConfig,
)
from hanyi.data.prepare import prepare
from hanyi.errors import ConfigError, ModelLoadError
from hanyi.model import build_model
from hanyi.rundir import RunDir
from hanyi.training.trainer import Trainer


@pytest.fixture(scope="module")
def synthetic_prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("syn")
    en, zh = synthetic_sentences(2000, seed=3)
    en += [f"{e} Number {i}." for i, e in enumerate(en[:600])]  # more distinct pairs
    zh += [f"{z}第{i}号。" for i, z in enumerate(zh[:600])]
    (root / "c.tsv").write_text("".join(f"{e}\t{z}\n" for e, z in zip(en, zh, strict=True)),
                                "utf-8")
    data = DataConfig(root=str(root), dir=str(root / "prepared"), dev_size=30, test_size=30,
                      held_out_near_duplicates="keep",  # templated: every sentence has one
                      sources=[SourceConfig(name="c", path="c.tsv", role="pool")])
    prepare(data, TokenizerConfig(src_vocab_size=100, tgt_vocab_size=120))
    return root / "prepared"


def experiment(prepared: Path, **train) -> ExperimentConfig:
    base = dict(max_steps=6, max_tokens=256, eval_every=1000, save_every=3, lr=1e-3,
                warmup_steps=2, dev_bleu_sentences=10, seed=5)
    return ExperimentConfig(
        data=DataConfig(dir=str(prepared)),
        model=ModelConfig(d_model=32, n_heads=4, d_ff=64, encoder_layers=1, decoder_layers=1,
                          dropout=0.2),  # dropout on: the RNG state must be restored too
        train=TrainConfig(**{**base, **train}))


def test_resume_equals_uninterrupted(synthetic_prepared, tmp_path):
    straight = Trainer(experiment(synthetic_prepared), tmp_path / "a", torch.device("cpu"))
    straight.run()
    first = Trainer(experiment(synthetic_prepared), tmp_path / "b", torch.device("cpu"),
                    stop_requested=lambda: first.state.step >= 3)
    assert first.run()["reason"] == "interrupted"
    assert (tmp_path / "b" / "LATEST").read_text().strip() == "checkpoints/step_00000003"
    second = Trainer(experiment(synthetic_prepared), tmp_path / "b", torch.device("cpu"))
    summary = second.run(resume=True)
    assert summary["step"] == 6
    for (name, a), (_, b) in zip(straight.model.state_dict().items(),
                                 second.model.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)


def test_checkpoint_round_trip_gives_identical_outputs(synthetic_prepared, tmp_path):
    trainer = Trainer(experiment(synthetic_prepared, average_last=2), tmp_path / "r",
                      torch.device("cpu"))
    summary = trainer.run()
    assert summary["averaged_from"] == 2
    for name in ("best", "averaged", "checkpoints/step_00000006"):
        assert not list((tmp_path / "r").glob(f"{name}.tmp-*"))
        loaded = load_model_dir(tmp_path / "r" / name)
        assert loaded.config.model == trainer.cfg.model
        assert loaded.src_vocab.sha256 == trainer.src_vocab.sha256
    trainer.model.eval()
    loaded = load_model_dir(tmp_path / "r" / "checkpoints" / "step_00000006")
    src = torch.randint(4, 40, (2, 5))
    tgt = torch.randint(4, 40, (2, 4))
    torch.testing.assert_close(loaded.model(src, tgt), trainer.model(src, tgt))
    meta = json.loads((tmp_path / "r" / "best" / "meta.json").read_text())
    assert meta["selected_by"] == "dev_bleu" and "tgt_spm_sha256" in meta


# ------------------------------------------------------------ save / load without training
def small_experiment(**model) -> ExperimentConfig:
    base = dict(d_model=32, n_heads=4, d_ff=64, encoder_layers=1, decoder_layers=2, dropout=0.0)
    return ExperimentConfig(model=ModelConfig(**{**base, **model}))


@pytest.fixture
def saved(toy_vocabs, tmp_path) -> Path:
    """A complete model directory (with training state) of a random small model."""
    cfg = small_experiment()
    torch.manual_seed(0)
    model = build_model(cfg.model, *toy_vocabs)
    return save_checkpoint(tmp_path / "model", model, cfg, *toy_vocabs, {"step": 1},
                           training_state={"step": torch.tensor(1)})


@pytest.mark.parametrize("changes", [{}, {"tie_target_embeddings": False},
                                     {"norm_position": "post", "attention": "reference"}])
def test_save_then_load_gives_identical_parameters_and_outputs(toy_vocabs, tmp_path, changes):
    cfg = small_experiment(**changes)
    torch.manual_seed(0)
    model = build_model(cfg.model, *toy_vocabs).eval()
    save_checkpoint(tmp_path / "m", model, cfg, *toy_vocabs, {"step": 7})
    loaded = load_model_dir(tmp_path / "m")
    assert loaded.config == cfg and loaded.meta["step"] == 7
    assert loaded.tgt_vocab.sha256 == toy_vocabs[1].sha256
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.model.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    tied = loaded.model.output_proj.weight.data_ptr() == loaded.model.tgt_embed.weight.data_ptr()
    assert tied == cfg.model.tie_target_embeddings
    src, tgt = torch.randint(4, 30, (2, 6)), torch.randint(4, 30, (2, 5))
    assert torch.equal(loaded.model(src, tgt), model(src, tgt))


def test_a_failed_save_leaves_the_old_checkpoint_and_no_partial_directory(saved, toy_vocabs,
                                                                          monkeypatch):
    before = load_model_dir(saved).model.state_dict()

    def crash(model, filename):  # dies half-way through writing the weights
        Path(filename).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_model", crash)
    cfg = small_experiment()
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(saved, build_model(cfg.model, *toy_vocabs), cfg, *toy_vocabs, {})
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]  # no tmp, no .old
    after = load_model_dir(saved).model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_saving_over_a_checkpoint_replaces_it_whole(saved, toy_vocabs):
    cfg = small_experiment(decoder_layers=1)
    save_checkpoint(saved, build_model(cfg.model, *toy_vocabs), cfg, *toy_vocabs, {"step": 2})
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]
    assert not (saved / "training_state.pt").exists()  # nothing left from the old one
    assert load_model_dir(saved).config.model.decoder_layers == 1


def test_a_crash_between_the_two_renames_loses_nothing(saved, toy_vocabs, monkeypatch):
    """Replacing a directory is two renames (final -> final.old, tmp -> final); a crash
    between them leaves only final.old, which loading restores, and the next save cleans."""
    before = load_model_dir(saved).model.state_dict()
    real_replace = files.os.replace

    def crash_on_second(src, dst):
        if Path(src).name.startswith("model.tmp-"):
            raise KeyboardInterrupt  # killed right after final -> final.old
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", crash_on_second)
    cfg = small_experiment()
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(saved, build_model(cfg.model, *toy_vocabs), cfg, *toy_vocabs, {})
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert not saved.exists() and (saved.parent / "model.old").is_dir()
    after = load_model_dir(saved).model.state_dict()  # restored from model.old
    assert all(torch.equal(before[k], after[k]) for k in before)
    save_checkpoint(saved, build_model(cfg.model, *toy_vocabs), cfg, *toy_vocabs, {})
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]


CORRUPTIONS = {
    "model.safetensors": b"not safetensors at all",
    "src.model": b"not a sentencepiece model",
    "tgt.model": b"",
    "config.yaml": b"model: [\n  : :\n",  # not YAML
    "meta.json": b"{step: 1",  # not JSON
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupt_file_is_a_model_load_error_naming_it(saved, name):
    (saved / name).write_bytes(CORRUPTIONS[name])
    with pytest.raises(ModelLoadError, match=re.escape(str(saved / name))):
        load_model_dir(saved)


@pytest.mark.parametrize("name", ["model.safetensors", "config.yaml", "src.model", "tgt.model"])
def test_missing_file_is_a_model_load_error_naming_it(saved, name):
    (saved / name).unlink()
    with pytest.raises(ModelLoadError, match=f"missing {name}"):
        load_model_dir(saved)


@pytest.mark.parametrize("config_text, fragment", [
    ("model:\n  d_modle: 32\n", "d_modle"),  # unknown key, valid ones listed
    ("- a\n- b\n", "mapping"),
    ("7\n", "mapping"),
    ("model:\n  d_model: 64\n  n_heads: 4\n", "do not fit"),  # weights of another shape
])
def test_config_that_does_not_describe_the_weights_is_a_model_load_error(saved, config_text,
                                                                          fragment):
    (saved / "config.yaml").write_text(config_text, encoding="utf-8")
    with pytest.raises(ModelLoadError, match=fragment):
        load_model_dir(saved)


def test_truncated_weights_and_training_state_are_model_load_errors(saved):
    data = (saved / "model.safetensors").read_bytes()
    (saved / "model.safetensors").write_bytes(data[:len(data) // 2])
    with pytest.raises(ModelLoadError, match="model.safetensors"):
        load_model_dir(saved)
    assert load_training_state(saved)["step"] == 1
    (saved / "training_state.pt").write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(ModelLoadError, match="training_state.pt"):
        load_training_state(saved)


def test_missing_or_non_directory_model_path(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_model_dir(tmp_path / "nothing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelLoadError, match="not a model directory"):
        load_model_dir(tmp_path / "file")


def test_init_from_starts_from_the_model_weights_and_checks_vocabularies(synthetic_prepared,
                                                                         tmp_path):
    first = Trainer(experiment(synthetic_prepared), tmp_path / "a", torch.device("cpu"))
    first.run()
    start = load_model_dir(tmp_path / "a" / "best")
    cfg = experiment(synthetic_prepared, init_from=str(tmp_path / "a" / "best"))
    second = Trainer(cfg, tmp_path / "b", torch.device("cpu"))
    for (name, a), (_, b) in zip(start.model.state_dict().items(),
                                 second.model.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)
    other = tmp_path / "other"
    shutil.copytree(tmp_path / "a" / "best", other)
    (other / "tgt.model").write_bytes((other / "src.model").read_bytes())
    with pytest.raises(ConfigError, match="not the vocabulary this run trains with"):
        Trainer(experiment(synthetic_prepared, init_from=str(other)), tmp_path / "c",
                torch.device("cpu"))
    with pytest.raises(ConfigError, match="averaged/src.model not found"):  # no such run yet
        Trainer(experiment(synthetic_prepared, init_from=str(tmp_path / "a" / "averaged")),
                tmp_path / "d", torch.device("cpu"))


def test_init_from_a_vocabulary_with_pieces_added_reuses_every_weight(synthetic_prepared,
                                                                       tmp_path):
    """tokenizer.slot_symbols with from_model: the run's vocabularies are the model's with
    pieces appended. Old rows are kept exactly; a new piece's row is the mean of the rows of
    the pieces the old vocabulary wrote it with (target side: embedding = output layer)."""
    from hanyi.tokenization.sentencepiece import with_symbols
    from hanyi.tokenization.vocab import Vocab

    Trainer(experiment(synthetic_prepared), tmp_path / "a", torch.device("cpu")).run()
    start = load_model_dir(tmp_path / "a" / "best")
    grown = tmp_path / "grown"
    shutil.copytree(synthetic_prepared, grown, ignore=shutil.ignore_patterns("shards"))
    symbols = ("7301", "7399")
    for name in ("src.model", "tgt.model"):
        (grown / name).write_bytes(with_symbols((grown / name).read_bytes(), symbols))
    second = Trainer(experiment(grown, init_from=str(tmp_path / "a" / "best")), tmp_path / "b",
                     torch.device("cpu"))
    old, new = start.model.state_dict(), second.model.state_dict()
    assert old.keys() == new.keys()
    for name, key in (("src.model", "src_embed.weight"), ("tgt.model", "tgt_embed.weight"),
                      ("tgt.model", "output_proj.weight")):
        vocab = Vocab.from_file(synthetic_prepared / name)
        rows = len(vocab)
        assert new[key].shape[0] == rows + 2
        torch.testing.assert_close(new[key][:rows], old[key], atol=0, rtol=0)
        for k, symbol in enumerate(symbols):
            ids = vocab.encode(symbol)
            assert len(ids) > 1  # the symbol was several pieces before
            torch.testing.assert_close(new[key][rows + k], old[key][ids].mean(dim=0))
    for key in old.keys() - {"src_embed.weight", "tgt_embed.weight", "output_proj.weight"}:
        torch.testing.assert_close(new[key], old[key], atol=0, rtol=0, msg=key)
    assert second.model.output_proj.weight is second.model.tgt_embed.weight  # still tied


def test_a_resumed_run_does_not_need_the_folder_it_started_from(synthetic_prepared, tmp_path):
    Trainer(experiment(synthetic_prepared), tmp_path / "a", torch.device("cpu")).run()
    start = tmp_path / "start"
    shutil.copytree(tmp_path / "a" / "best", start)
    cfg = experiment(synthetic_prepared, init_from=str(start))
    first = Trainer(cfg, tmp_path / "b", torch.device("cpu"),
                    stop_requested=lambda: first.state.step >= 3)
    assert first.run()["reason"] == "interrupted"
    shutil.rmtree(start)  # e.g. a stage-1 run deleted before stage 2 is resumed
    resumed = Trainer(cfg, tmp_path / "b", torch.device("cpu"))
    assert resumed.resume()
    saved = load_model_dir(resumed.rundir.latest())
    for (name, a), (_, b) in zip(saved.model.state_dict().items(),
                                 resumed.model.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)


def test_prepare_can_reuse_a_model_s_vocabularies(synthetic_prepared, tmp_path):
    root = synthetic_prepared.parent
    data = DataConfig(root=str(root), dir=str(tmp_path / "p"), dev_size=30, test_size=30,
                      held_out_near_duplicates="keep",
                      sources=[SourceConfig(name="c", path="c.tsv", role="pool")])
    prepare(data, TokenizerConfig(from_model=str(synthetic_prepared)))
    for name in ("src.model", "tgt.model"):
        assert (tmp_path / "p" / name).read_bytes() == (synthetic_prepared / name).read_bytes()


def test_bf16_falls_back_to_fp32_where_the_cpu_only_emulates_it(synthetic_prepared, tmp_path,
                                                                monkeypatch, caplog):
    import hanyi.training.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "bf16_supported", lambda device: False)
    with caplog.at_level("WARNING", logger="hanyi.training.trainer"):
        trainer = Trainer(experiment(synthetic_prepared, bf16=True), tmp_path / "r",
                          torch.device("cpu"))
    assert trainer.cfg.train.bf16 is False and "training in fp32" in caplog.text


def test_train_tf32_sets_the_cuda_matmul_switch_and_leaves_other_devices_alone():
    from hanyi.training.precision import use_tf32

    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = matmul.allow_tf32, cudnn.allow_tf32
    try:
        matmul.allow_tf32 = cudnn.allow_tf32 = False
        use_tf32(torch.device("cpu"), True)
        assert matmul.allow_tf32 is False and cudnn.allow_tf32 is False
        use_tf32(torch.device("cuda"), True)  # only flips the switch: no GPU needed
        assert matmul.allow_tf32 is True and cudnn.allow_tf32 is True
        use_tf32(torch.device("cuda"), False)
        assert matmul.allow_tf32 is False and cudnn.allow_tf32 is False
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = saved


def test_atomic_writes_keep_usual_permissions_and_leave_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    files.atomic_write_text(target, "one\n")
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~umask)  # not mkstemp's 0600
    target.chmod(0o640)
    with pytest.raises(RuntimeError), files.atomic_open(target) as out:
        out.write("half a translation")
        raise RuntimeError("killed")
    assert target.read_text() == "one\n" and files.stale_temporaries(tmp_path) == []
    files.atomic_write_text(target, "two\n")
    assert target.read_text() == "two\n" and (target.stat().st_mode & 0o777) == 0o640
    with files.atomic_dir(tmp_path / "model") as folder:
        (folder / "weights").write_text("w")
    assert ((tmp_path / "model").stat().st_mode & 0o777) == (0o777 & ~umask)  # not 0700


def test_run_dir_bookkeeping(tmp_path):
    run = RunDir(tmp_path)
    assert run.latest() is None and run.step_checkpoints() == []
    for step in (2, 4, 6):
        (tmp_path / run.step_name(step)).mkdir(parents=True)
    (tmp_path / "checkpoints" / "step_00000008.tmp-abc").mkdir()  # a killed save
    (tmp_path / ".LATEST.tmp-1-ff").write_text("x")  # a killed pointer update
    run.mark_latest(tmp_path / run.step_name(4))
    assert run.latest() == tmp_path / "checkpoints" / "step_00000004"
    assert [p.name for p in run.step_checkpoints()] == [f"step_0000000{s}" for s in (2, 4, 6)]
    run.prune(1)  # keeps the newest, and never the one LATEST names
    assert [p.name for p in run.step_checkpoints()] == ["step_00000004", "step_00000006"]
    removed = run.remove_interrupted_writes()
    assert sorted(p.name for p in removed) == [".LATEST.tmp-1-ff", "step_00000008.tmp-abc"]
    run.append_history({"step": 200, "dev_bleu": 1.0})
    run.append_history({"step": 400, "dev_bleu": 2.0})
    run.append_history({"step": 400, "dev_bleu": 2.5})  # evaluated again after a resume
    assert run.history() == [{"step": 200, "dev_bleu": 1.0}, {"step": 400, "dev_bleu": 2.5}]


def test_flipped_bytes_in_the_weights_are_caught_on_load(saved):
    data = bytearray((saved / "model.safetensors").read_bytes())
    data[-100] ^= 0xFF  # one byte of a tensor: still valid safetensors, different numbers
    (saved / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="damaged.*SHA-256"):
        load_model_dir(saved)
