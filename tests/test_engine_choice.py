"""Which engine searches: a model directory with its own CTranslate2 export (the shipped
model's layout) runs that export by default on a CPU, and `--engine` means what it says."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from helpers import synthetic_sentences, vivid_model

from hanyi.checkpoint import BUNDLED_EXPORT, load_model_dir, save_checkpoint
from hanyi.config import ExperimentConfig
from hanyi.errors import ConfigError, ModelLoadError
from hanyi.inference import Translator
from hanyi.inference.translator import pick_export

pytest.importorskip("ctranslate2")


def saved_model(toy_vocabs, cfg, folder: Path, seed: int = 0) -> Path:
    """A saved model directory whose greedy outputs vary with the input."""
    model = vivid_model(toy_vocabs, cfg, seed)
    config = ExperimentConfig(model=cfg)
    config.decode = dataclasses.replace(config.decode, beam_size=1, batch_size=8,
                                        stop_loops=False)
    return save_checkpoint(folder, model, config, *toy_vocabs, {"step": 0})


@pytest.fixture
def bundled(toy_vocabs, small_model_config, tmp_path) -> Path:
    """A model directory carrying a float32 export of its own weights in ctranslate2/."""
    from hanyi.export import export_ctranslate2

    folder = saved_model(toy_vocabs, small_model_config, tmp_path / "model")
    export_ctranslate2(load_model_dir(folder), folder / BUNDLED_EXPORT, "float32")
    return folder


def test_auto_runs_the_bundled_export_and_matches_torch(bundled):
    texts = synthetic_sentences(16, seed=3)[0] + [""]
    auto = Translator.load(bundled, threads=1)
    torch_ = Translator.load(bundled, engine="torch")
    assert auto.engine_name == "ctranslate2-float32" and torch_.engine_name == "torch"
    assert auto.model is None and torch_.model is not None
    assert auto.loaded.path == bundled  # named after the model directory, not the export
    ours, theirs = torch_.translate(texts), auto.translate(texts)
    assert [t.tgt_tokens for t in theirs] == [t.tgt_tokens for t in ours]
    assert len({t.text for t in ours}) >= 4, "degenerate model: the test would prove little"


def test_the_model_directory_settings_win_over_the_exports(bundled):
    config = bundled / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "length_penalty: 1.0", "length_penalty: 0.7"), encoding="utf-8")
    assert Translator.load(bundled, threads=1).decode_cfg.length_penalty == 0.7


def test_auto_falls_back_to_torch_where_the_export_cannot_serve(bundled, toy_vocabs,
                                                                small_model_config, tmp_path):
    assert Translator.load(bundled, quantize="int8").engine_name == "torch-int8"
    assert pick_export(bundled, "auto", torch.device("cuda"), "none") is None
    plain = saved_model(toy_vocabs, small_model_config, tmp_path / "plain")
    assert Translator.load(plain).engine_name == "torch"


def test_engine_flags_mean_what_they_say(bundled, toy_vocabs, small_model_config, tmp_path):
    assert Translator.load(bundled, engine="ctranslate2", threads=1).model is None
    plain = saved_model(toy_vocabs, small_model_config, tmp_path / "plain")
    with pytest.raises(ConfigError, match="holds no CTranslate2 export"):
        Translator.load(plain, engine="ctranslate2")
    with pytest.raises(ConfigError, match="holds no PyTorch weights"):
        Translator.load(bundled / BUNDLED_EXPORT, engine="torch")
    with pytest.raises(ConfigError, match="--quantize is for the PyTorch engine"):
        Translator.load(bundled, engine="ctranslate2", quantize="int8")
    with pytest.raises(ConfigError, match="unknown engine"):
        Translator.load(bundled, engine="onnx")


def test_an_export_of_other_weights_is_refused(bundled, toy_vocabs, small_model_config,
                                               tmp_path):
    """New weights saved over the directory leave its export stale: never run it."""
    other = saved_model(toy_vocabs, small_model_config, tmp_path / "other", seed=1)
    for name in ("model.safetensors", "meta.json"):
        (bundled / name).write_bytes((other / name).read_bytes())
    with pytest.raises(ModelLoadError, match="exported from other weights"):
        Translator.load(bundled)
    assert Translator.load(bundled, engine="torch").engine_name == "torch"


def test_cli_engine_flag(bundled, capsys):
    from hanyi.cli.__main__ import main

    args = ["translate", "--model", str(bundled), "--threads", "1", "Tom likes tea."]
    assert main(args) == 0
    auto = capsys.readouterr().out
    assert main([*args, "--engine", "torch"]) == 0
    assert capsys.readouterr().out == auto
    assert main(["translate", "--model", str(bundled / BUNDLED_EXPORT), "--engine", "torch",
                 "Tom"]) == 2
    assert "holds no PyTorch weights" in capsys.readouterr().err


def test_release_export_is_float16_with_its_own_export(toy_vocabs, small_model_config,
                                                       tmp_path, capsys):
    """`hanyi export --format release`: the shipped model's layout in one step."""
    from safetensors.torch import load_file

    from hanyi.cli.__main__ import main

    trained = saved_model(toy_vocabs, small_model_config, tmp_path / "run")
    out = tmp_path / "release"
    assert main(["export", "--format", "release", "--model", str(trained), "--out", str(out),
                 "--quantization", "float32"]) == 0
    capsys.readouterr()
    weights = load_file(str(out / "model.safetensors"))
    assert {t.dtype for t in weights.values()} == {torch.float16}
    full = (trained / "model.safetensors").stat().st_size
    assert (out / "model.safetensors").stat().st_size < 0.55 * full
    texts = synthetic_sentences(16, seed=4)[0]
    auto, torch_ = Translator.load(out, threads=1), Translator.load(out, engine="torch")
    assert auto.engine_name == "ctranslate2-float32" and torch_.engine_name == "torch"
    # the export was made from the float16 weights that --engine torch loads
    assert ([t.tgt_tokens for t in auto.translate(texts)]
            == [t.tgt_tokens for t in torch_.translate(texts)])
    original = Translator.load(trained).translate(texts)
    same = sum(a.text == b.text for a, b in zip(original, torch_.translate(texts), strict=True))
    assert same >= 0.9 * len(texts)  # float16 storage: at most rare argmax flips


def test_a_server_on_the_export_says_it_has_no_attention(bundled):
    """The page asks /api/health before it asks for a heat-map; a direct request for
    attention weights gets a 400 that names the way to them."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from hanyi.config import ServeConfig
    from hanyi.serving import create_app

    with TestClient(create_app(Translator.load(bundled, threads=1), ServeConfig())) as client:
        health = client.get("/api/health").json()
        assert health["engine"] == "ctranslate2-float32" and health["attention"] is False
        assert client.post("/api/translate", json={"text": "Tom likes tea."}).status_code == 200
        r = client.post("/api/translate", json={"text": "Tom likes tea.", "attention": True})
        assert r.status_code == 400 and "--engine torch" in r.json()["error"]


@pytest.mark.parametrize("engine", ["torch", "ctranslate2"])
def test_caps_past_the_position_table_are_clamped(bundled, engine):
    """The toy model has 128 positions; the default decode caps (256 in, 400 out) do not
    fit it: the input is cut and the output capped to the table, on either engine."""
    translator = Translator.load(bundled, engine=engine, threads=1)
    assert translator.loaded.config.model.max_positions == 128
    long = " ".join(["Tom likes tea and Mary likes coffee."] * 40)
    assert len(translator.src_vocab.encode(long)) > 128
    cfg = translator.with_options(max_len_a=3.0, max_len_b=50, max_output_tokens=400)
    out = translator.translate([long], cfg)[0]
    assert 0 < len(out.tgt_tokens) <= 128
