"""Config validation: unknown keys list the valid ones, Literal choices, overrides, YAML
round trip, and the README documents every key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hanyi.config import (
    DecodeConfig,
    ExperimentConfig,
    ModelConfig,
    apply_overrides,
    config_from_yaml_text,
    config_to_yaml,
    decode_with_overrides,
    from_dict,
    load_config,
)
from hanyi.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_unknown_key_names_the_valid_keys():
    with pytest.raises(ConfigError) as info:
        from_dict(ExperimentConfig, {"model": {"dmodel": 3}})
    assert "model.dmodel" in str(info.value) and "d_model" in str(info.value)


def test_literal_and_type_errors_list_choices():
    with pytest.raises(ConfigError, match="'pre', 'post'"):
        from_dict(ExperimentConfig, {"model": {"norm_position": "mid"}})
    with pytest.raises(ConfigError, match="must be int"):
        from_dict(ExperimentConfig, {"model": {"d_model": "big"}})


def test_overrides_parse_yaml_values_and_nest():
    values = apply_overrides({"model": {"d_model": 64}}, ["model.d_model=128",
                                                          "train.bf16=true", "name=x"])
    assert values == {"model": {"d_model": 128}, "train": {"bf16": True}, "name": "x"}
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides({}, ["model.d_model"])


def test_yaml_round_trip_and_shipped_configs_load():
    for path in sorted((REPO / "configs").glob("*.yaml")):
        cfg = load_config(path)
        assert config_from_yaml_text(config_to_yaml(cfg)) == cfg, path.name
    assert ModelConfig().kernel_for("cross") == "sdpa"


def test_paper_base_config_is_the_papers_base_model():
    """configs/paper-base.yaml: Vaswani et al. 2017, Table 3 "base", §5.3, §5.4, §6.1."""
    cfg = load_config(REPO / "configs" / "paper-base.yaml")
    m, t = cfg.model, cfg.train
    assert (m.d_model, m.n_heads, m.d_ff, m.encoder_layers, m.decoder_layers) == (
        512, 8, 2048, 6, 6)
    assert m.norm_position == "post" and m.dropout == 0.1 and m.tie_target_embeddings
    assert m.attention in ("reference", "sdpa")  # exact softmax attention
    assert t.label_smoothing == 0.1 and t.warmup_steps == 4000 and t.betas == (0.9, 0.98)
    assert abs(t.lr - 512 ** -0.5 * 4000 ** -0.5) < 1e-6  # the peak of Eq. 3
    assert cfg.decode.beam_size == 4 and cfg.decode.length_penalty == 0.6


def test_readme_documents_every_config_key():
    import dataclasses

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for section in dataclasses.fields(ExperimentConfig):
        if dataclasses.is_dataclass(section.type) or section.name != "name":
            cls = type(getattr(ExperimentConfig(), section.name))
            if dataclasses.is_dataclass(cls):
                for f in dataclasses.fields(cls):
                    assert f"`{f.name}`" in readme, f"README lacks {section.name}.{f.name}"


def test_model_config_validates_heads():
    with pytest.raises(ConfigError, match="divisible"):
        ModelConfig(d_model=30, n_heads=4)


def test_every_config_section_round_trips_through_yaml_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  d_model: 64\n  n_heads: 4\ntrain:\n  max_steps: 10\n"
                    "  betas: [0.9, 0.99]\n", encoding="utf-8")
    cfg = load_config(path, ["model.norm_position=post", "decode.beam_size=5",
                             "train.lr=3e-4", "data.sources=[{name: a, path: a.tsv}]"])
    assert cfg.model.d_model == 64 and cfg.model.norm_position == "post"
    assert cfg.decode.beam_size == 5 and cfg.train.lr == 3e-4
    assert cfg.train.betas == (0.9, 0.99)  # a YAML list becomes the typed tuple
    assert cfg.data.sources[0].name == "a" and cfg.data.sources[0].format == "tsv"
    assert config_from_yaml_text(config_to_yaml(cfg)) == cfg


@pytest.mark.parametrize("section, values, fragment", [
    ("decode", {"beam_size": 2, "nbest": 3}, "nbest"),
    ("decode", {"beam_size": 0}, "beam_size"),
    ("train", {"max_tokens": 8}, "max_tokens"),
    ("train", {"accumulate": 0}, "accumulate"),
    ("model", {"dropout": 1.5}, "dropout"),
    ("model", {"encoder_layers": 0}, "encoder_layers"),
    ("data", {"sources": [{"name": "x"}]}, "path"),
    ("data", {"sources": [{"name": "x", "path": "p", "role": "validation"}]}, "'dev'"),
])
def test_invalid_values_fail_at_load_time_with_a_clear_message(section, values, fragment):
    with pytest.raises(ConfigError, match=fragment):
        from_dict(ExperimentConfig, {section: values})


def test_config_errors_are_config_errors_not_type_errors():
    for bad in ({"model": 3}, {"train": {"betas": 0.9}}, {"data": {"sources": "a.tsv"}},
                {"model": {"tie_target_embeddings": "yes"}}):
        with pytest.raises(ConfigError):
            from_dict(ExperimentConfig, bad)


def test_defaults_are_valid_and_hanyi_train_asks_for_a_limit(tmp_path):
    from helpers import assert_user_error, hanyi

    from hanyi.config import TrainConfig

    assert TrainConfig().max_steps == 0 and ExperimentConfig().train == TrainConfig()
    cfg = tmp_path / "nolimit.yaml"
    cfg.write_text(f"data: {{dir: {tmp_path / 'nothing'}}}\n", encoding="utf-8")
    assert_user_error(hanyi("train", str(cfg), "--out", str(tmp_path / "run")),
                      "training needs a limit", "train.max_minutes")
    assert not (tmp_path / "run").exists()


def test_attention_kernel_names_are_checked_when_the_config_loads():
    from typing import get_args

    from hanyi.config.sections import AttentionName
    from hanyi.model.attention import ATTENTION_KERNELS

    assert set(get_args(AttentionName)) == set(ATTENTION_KERNELS)
    with pytest.raises(ConfigError, match="'sdpa2' is not valid; choose one of .*'local'"):
        load_config(None, ["model.encoder_attention=sdpa2"])


def test_decode_settings_change_one_way_flags_are_set_shorthands():
    """--beam 3 and --set decode.beam_size=3 are the same override; the flag comes later."""
    import argparse

    from hanyi.cli.common import add_model_args, decode_overrides

    parser = argparse.ArgumentParser()
    add_model_args(parser)
    args = parser.parse_args(["--set", "decode.beam_size=2", "--beam", "3", "--nbest", "2"])
    assert decode_overrides(args) == ["decode.beam_size=2", "decode.beam_size=3",
                                      "decode.nbest=2"]
    base = DecodeConfig(beam_size=4, nbest=4)
    assert decode_with_overrides(base, decode_overrides(args)) == DecodeConfig(beam_size=3,
                                                                               nbest=2)
    assert decode_with_overrides(base, ["decode.beam_size=1"]).nbest == 1  # greedy
    with pytest.raises(ConfigError, match="nbest"):
        decode_with_overrides(base, ["decode.beam_size=1", "decode.nbest=3"])
    with pytest.raises(ConfigError, match="only decode"):
        decode_with_overrides(base, ["model.d_model=8"])
    sampled = parser.parse_args(["--beam", "1", "--sample-topk", "0", "--temperature", "0.7",
                                 "--seed", "3"])
    assert decode_with_overrides(base, decode_overrides(sampled)) == DecodeConfig(
        beam_size=1, nbest=1, sampling_topk=0, sampling_temperature=0.7, sampling_seed=3)
    with pytest.raises(ConfigError, match="beam_size 1"):  # sampling replaces greedy search
        decode_with_overrides(base, decode_overrides(parser.parse_args(["--sample-topk", "5"])))


def test_a_translators_default_decode_settings_cannot_be_overwritten(random_model, toy_vocabs):
    from hanyi.inference import Translator

    translator = Translator.from_model(random_model, ExperimentConfig(), *toy_vocabs)
    with pytest.raises(AttributeError):
        translator.decode_cfg = DecodeConfig(beam_size=1)


def test_one_tokenizer_type_key_per_language_and_old_model_dirs_still_load(tmp_path):
    """tokenizer.model_type (one key for both, before 0.2.0) is refused in a config, with what
    to write instead, and read as the two per-side keys from a saved model directory."""
    old = "tokenizer:\n  model_type: bpe\n  tgt_model_type: char\n"
    path = tmp_path / "old.yaml"
    path.write_text(old, encoding="utf-8")
    with pytest.raises(ConfigError, match="src_model_type and tgt_model_type"):
        load_config(path)
    saved = config_from_yaml_text(old)
    assert (saved.tokenizer.src_model_type, saved.tokenizer.tgt_model_type) == ("bpe", "char")
    assert "\n  model_type:" not in config_to_yaml(saved)  # saved again: the new keys only
