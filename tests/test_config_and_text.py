"""Config validation, text normalisation, the Vocab, and the package's dependency rules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hanyi.config import (ExperimentConfig, ModelConfig, apply_overrides, config_from_yaml_text,
                          config_to_yaml, from_dict, load_config)
from hanyi.errors import ConfigError
from hanyi.tokenization.normalize import detokenize_zh, normalize_en, normalize_zh

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "hanyi"


def test_unknown_key_names_the_valid_keys():
    with pytest.raises(ConfigError) as info:
        from_dict(ExperimentConfig, {"model": {"dmodel": 3}})
    assert "model.dmodel" in str(info.value) and "d_model" in str(info.value)


def test_literal_and_type_errors_list_choices():
    with pytest.raises(ConfigError, match="'pre', 'post'"):
        from_dict(ExperimentConfig, {"model": {"norm_position": "mid"}})
    with pytest.raises(ConfigError, match="must be int"):
        from_dict(ExperimentConfig, {"model": {"d_model": "big"}})
    with pytest.raises(ConfigError, match="a limit"):
        from_dict(ExperimentConfig, {"train": {"max_steps": 0}})


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


def test_readme_documents_every_config_key():
    import dataclasses

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for section in dataclasses.fields(ExperimentConfig):
        if dataclasses.is_dataclass(section.type) or section.name != "name":
            cls = type(getattr(ExperimentConfig(), section.name))
            if dataclasses.is_dataclass(cls):
                for f in dataclasses.fields(cls):
                    assert f"`{f.name}`" in readme, f"README lacks {section.name}.{f.name}"


@pytest.mark.parametrize("raw, expected", [
    ("他掌握會議可真有一套.", "他掌握会议可真有一套。"),
    ("别说这种荒唐话了!", "别说这种荒唐话了！"),
    ("你 好 , 汤姆 ?", "你好，汤姆？"),
    ("价格是3.5元.", "价格是3.5元。"),
    ("ＡＢＣ１２３。", "ABC123。"),
    ("我叫(汤姆)。", "我叫（汤姆）。"),
])
def test_normalize_zh(raw, expected):
    assert normalize_zh(raw) == expected


def test_normalize_en_and_detokenize():
    assert normalize_en("  I’m   ﬁne,\tthanks! ") == "I'm fine, thanks!"
    assert detokenize_zh("我 是 New York 人 。") == "我是 New York 人。"  # Latin keeps spaces
    assert detokenize_zh("你好 ， 世界") == "你好，世界"


def test_vocab_owns_special_ids_and_round_trips(toy_vocabs):
    src, tgt = toy_vocabs
    assert (src.pad_id, src.unk_id, src.bos_id, src.eos_id) == (0, 1, 2, 3)
    assert tgt.decode(tgt.encode("我喜欢茶。")) == "我喜欢茶。"  # full-width kept
    assert tgt.pieces([tgt.eos_id]) == ["</s>"]
    assert len(src.sha256) == 64


# ------------------------------------------------------------------ dependency rules
ORDER = ["config", "tokenization", "data", "model", "decoding", "inference", "cli"]
FORBIDDEN = {
    "model": {"data", "training", "cli", "serving", "inference", "evaluation"},
    "decoding": {"training", "cli", "serving", "inference", "data"},
    "tokenization": {"data", "model", "decoding", "inference", "training", "cli"},
    "config": {"tokenization", "data", "model", "decoding", "inference", "training", "cli"},
    "data": {"model", "decoding", "inference", "training", "cli"},
    "inference": {"cli", "serving", "training"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "hanyi" and len(parts) > 1:
                found.add(parts[1])
    return found


def package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def test_one_way_import_chain():
    for path in SRC.rglob("*.py"):
        pkg = package_of(path)
        bad = imports_of(path) & FORBIDDEN.get(pkg, set())
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"
        if pkg != "cli":
            assert "cli" not in imports_of(path) or path.name == "__main__.py", path


def test_library_never_prints():
    for path in SRC.rglob("*.py"):
        if package_of(path) in {"cli", "serving", "__main__"}:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name) and n.func.id == "print"]
        assert not calls, f"{path.relative_to(REPO)} calls print()"
