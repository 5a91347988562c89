"""Every user error of issue 2 item 9: one line `hanyi: error: ...` on stderr, exit status 2,
never a traceback."""

from __future__ import annotations

import json

import pytest
import yaml
from helpers import REPO, assert_user_error, hanyi

from hanyi.cli.__main__ import main
from hanyi.errors import ConfigError


@pytest.fixture(scope="module")
def model(tiny_run) -> str:
    return str(tiny_run / "run" / "best")


def test_missing_model_dir():
    assert_user_error(hanyi("translate", "--model", "/nonexistent/model", "Hi."),
                      "model directory not found", "/nonexistent/model")


def test_incomplete_and_corrupt_model_dirs(model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    assert_user_error(hanyi("translate", "--model", str(broken), "Hi."), "corrupt")
    (broken / "tgt.model").unlink()
    assert_user_error(hanyi("translate", "--model", str(broken), "Hi."), "missing tgt.model")
    bad_config = tmp_path / "badcfg"
    shutil.copytree(model, bad_config)
    (bad_config / "config.yaml").write_text("model:\n  d_modle: 3\n", encoding="utf-8")
    assert_user_error(hanyi("translate", "--model", str(bad_config), "Hi."), "d_modle")


def test_unknown_config_key_lists_the_valid_ones(tmp_path):
    line = assert_user_error(hanyi("prepare", str(REPO / "configs/tiny.yaml"),
                                   "--set", "model.d_modl=64"), "d_modl")
    assert "d_model" in line and "n_heads" in line
    assert_user_error(hanyi("train", str(REPO / "configs/tiny.yaml"), "--out", str(tmp_path),
                            "--set", "model.norm_position=middle"), "'pre'", "'post'")
    assert_user_error(hanyi("prepare", str(tmp_path / "none.yaml")), "config file not found")


def test_malformed_data_lines_are_counted_not_fatal(tmp_path):
    good = "".join(f"Sentence number {i}.\t第{i}句话。\n" for i in range(60))
    (tmp_path / "c.tsv").write_text(good + "only one field\n" + "a\tb\tc\td\n", "utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data:\n  root: {tmp_path}\n  dir: {tmp_path / 'p'}\n  dev_size: 5\n  test_size: 5\n"
        "  sources: [{name: c, path: c.tsv, role: pool}]\n"
        "tokenizer: {src_vocab_size: 60, tgt_vocab_size: 60}\n", encoding="utf-8")
    # "Sentence number N." are all within one word of each other: honest held-out sets
    # cannot be drawn from them, and prepare says so
    assert_user_error(hanyi("prepare", str(config)), "test split is empty",
                      "held_out_near_duplicates: keep")
    proc = hanyi("prepare", str(config), "--set", "data.held_out_near_duplicates=keep")
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["filters"]["fields"] == 2
    rejects = (tmp_path / "p" / "rejects.tsv").read_text(encoding="utf-8")
    assert f"{tmp_path / 'c.tsv'}:61\tfields" in rejects


def test_empty_input(model, tmp_path):
    empty = tmp_path / "empty.en"
    empty.write_bytes(b"")
    assert_user_error(hanyi("translate", "--model", model, "-i", str(empty)), "empty")
    assert_user_error(hanyi("translate", "--model", model, stdin=b""), "empty")


def test_invalid_utf8_names_the_line_or_is_replaced(model, tmp_path):
    bad = tmp_path / "bad.en"
    bad.write_bytes(b"Hello.\nGood \xff night.\nBye.\n")
    assert_user_error(hanyi("translate", "--model", model, "-i", str(bad)),
                      f"{bad}:2", "invalid UTF-8", "--errors replace")
    proc = hanyi("translate", "--model", model, "-i", str(bad), "--errors", "replace")
    assert proc.returncode == 0 and len(proc.stdout.decode().splitlines()) == 3


def test_bad_decode_options(model):
    assert_user_error(hanyi("translate", "--model", model, "--beam", "2", "--nbest", "3",
                            "Hi."), "nbest")
    assert_user_error(hanyi("translate", "--model", model, "--set", "model.d_model=3", "Hi."),
                      "decode")
    assert_user_error(hanyi("translate", "--model", model, "--set", "decode.beem=3", "Hi."),
                      "beem", "beam_size")


def test_evaluate_with_misaligned_files(model, tmp_path):
    (tmp_path / "s.en").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "r.zh").write_text("一\n", encoding="utf-8")
    assert_user_error(hanyi("evaluate", "--model", model, "--src", str(tmp_path / "s.en"),
                            "--ref", str(tmp_path / "r.zh")), "2 lines", "1")


def test_train_refuses_to_overwrite_a_run_without_resume(tiny_run):
    assert_user_error(hanyi("train", str(REPO / "configs/tiny.yaml"), "--out",
                            str(tiny_run / "run")), "--resume")


def test_main_returns_2_in_process(capsys):
    assert main(["translate", "--model", "/nonexistent", "Hi."]) == 2
    assert capsys.readouterr().err.startswith("hanyi: error:")


# --------------------------------------------- the same contract, in-process (faster)
def user_error(capsys, *args: str) -> str:
    """main(ARGS) returns 2 and prints exactly one `hanyi: error:` line (no traceback: an
    exception escaping main would fail the test)."""
    capsys.readouterr()
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("hanyi: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


TINY = str(REPO / "configs" / "tiny.yaml")


@pytest.mark.parametrize("override, fragments", [
    ("nosuch.key=1", ["'nosuch'", "data", "model", "train"]),  # unknown section
    ("train.max_step=5", ["train.max_step", "max_steps", "warmup_steps"]),
    ("model.d_model=big", ["model.d_model", "must be int"]),
    ("tokenizer.src_model_type=sentencepiece", ["'unigram'", "'bpe'"]),  # Literal choices
    ("model.n_heads=3", ["divisible"]),
    ("model.d_model", ["key.sub=value"]),  # no '='
    ("model=3", ["model", "mapping"]),
])
def test_bad_overrides_name_the_key_and_the_valid_choices(capsys, override, fragments):
    line = user_error(capsys, "prepare", TINY, "--set", override)
    for fragment in fragments:
        assert fragment in line


def test_config_file_that_is_not_yaml_names_the_line(capsys, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  d_model: 64\n  n_heads: [4\n", encoding="utf-8")
    assert f"{config}:" in user_error(capsys, "prepare", str(config))
    config.write_bytes(b"name: \xff\xfe\n")
    assert "not UTF-8" in user_error(capsys, "prepare", str(config))
    config.write_text("- just\n- a list\n", encoding="utf-8")
    assert "mapping" in user_error(capsys, "prepare", str(config))


def test_prepare_errors_name_the_data_file(capsys, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  root: {tmp_path}\n  dir: {tmp_path / 'out'}\n"
                      "  sources: [{name: c, path: missing.tsv}]\n", encoding="utf-8")
    assert str(tmp_path / "missing.tsv") in user_error(capsys, "prepare", str(config))
    (tmp_path / "missing.tsv").write_text("no tab\nstill no tab\n", encoding="utf-8")
    assert "no training pairs" in user_error(capsys, "prepare", str(config))


def test_training_on_unprepared_data_says_what_is_missing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HANYI_NO_MALLOC_TUNING", "1")  # no re-exec of the test process
    line = user_error(capsys, "train", TINY, "--out", str(tmp_path / "run"), "--device", "cpu",
                      "--set", f"data.dir={tmp_path / 'nothing'}")
    assert str(tmp_path / "nothing") in line


def test_corrupt_model_files_are_one_line(capsys, model, tmp_path):
    import shutil

    for name, content, fragment in [("meta.json", b"{oops", "meta.json"),
                                    ("config.yaml", b"model: [\n", "config.yaml"),
                                    ("src.model", b"garbage", "src.model")]:
        broken = tmp_path / name
        shutil.copytree(model, broken)
        (broken / name).write_bytes(content)
        assert fragment in user_error(capsys, "translate", "--model", str(broken), "Hi.")


def test_input_and_output_file_errors(capsys, model, tmp_path):
    missing = tmp_path / "missing.en"
    assert "not found" in user_error(capsys, "translate", "--model", model, "-i", str(missing))
    good = tmp_path / "in.en"
    good.write_text("Hi.\n", encoding="utf-8")
    line = user_error(capsys, "translate", "--model", model, "-i", str(good), "-o",
                      str(tmp_path / "no" / "dir" / "out.zh"))
    assert str(tmp_path / "no" / "dir") in line
    assert "not both" in user_error(capsys, "translate", "--model", model, "-i", str(good), "Hi.")
    bad_ref = tmp_path / "ref.zh"
    bad_ref.write_bytes(b"\xe4\xbd\n")  # a truncated UTF-8 character on line 1
    line = user_error(capsys, "evaluate", "--model", model, "--src", str(good), "--ref",
                      str(bad_ref))
    assert f"{bad_ref}:1" in line and "invalid UTF-8" in line


@pytest.mark.parametrize("flags, fragments", [
    (["--batch-size", "-1"], ["decode.batch_size must be >= 1"]),
    (["--batch-size", "0"], ["decode.batch_size must be >= 1"]),
    (["--beam", "1000"], ["decode.beam_size must be between 1 and 64"]),
    (["--length-penalty", "nan"], ["decode.length_penalty"]),
    (["--set", "decode.beam_size=true"], ["decode.beam_size"]),
])
def test_every_numeric_decode_option_is_checked(model, flags, fragments):
    assert_user_error(hanyi("translate", "--model", model, *flags, "Hi."), *fragments)


def test_output_over_the_input_is_refused_unless_asked(model, tmp_path):
    src = tmp_path / "same.en"
    src.write_text("I like tea.\n", encoding="utf-8")
    link = tmp_path / "link.en"
    link.symlink_to(src)
    for out in (src, link):
        assert_user_error(hanyi("translate", "--model", model, "-i", str(src), "-o", str(out)),
                          "is the input file", "--in-place")
    assert src.read_text(encoding="utf-8") == "I like tea.\n"
    proc = hanyi("translate", "--model", model, "-i", str(src), "-o", str(src), "--in-place")
    assert proc.returncode == 0 and src.read_text(encoding="utf-8") != "I like tea.\n"


def test_an_unwritable_output_is_named_not_its_temporary_file(model, tmp_path):
    target = tmp_path / "a-directory"
    target.mkdir()  # cannot be replaced by a file (chmod would not stop root)
    line = assert_user_error(hanyi("translate", "--model", model, "-o", str(target), "Hi."),
                             str(target))
    assert ".tmp" not in line and not list(tmp_path.glob(".*tmp*"))


def test_sigterm_while_writing_leaves_no_temporary_file(model, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "many.en"
    src.write_text("I like tea and she reads books in the park.\n" * 4000, encoding="utf-8")
    out = tmp_path / "out.zh"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "hanyi", "translate", "--model", model,
                             "-i", str(src), "-o", str(out)], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.zh.tmp-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.zh.tmp-*")), "the translation never started writing"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    assert "hanyi: terminated" in err.decode() and "Traceback" not in err.decode()
    assert not out.exists() and not list(tmp_path.glob(".out.zh.tmp-*"))


def test_a_malformed_glossary_names_its_line(model, tmp_path):
    glossary = tmp_path / "terms.tsv"
    glossary.write_text("# terms\ntax return\t纳税申报表\nno tab here\n", encoding="utf-8")
    assert_user_error(hanyi("translate", "--model", model, "--glossary", str(glossary), "Hi."),
                      f"{glossary}:3", "English term<TAB>Chinese")
    assert_user_error(hanyi("translate", "--model", model, "--glossary",
                            str(tmp_path / "none.tsv"), "Hi."), "glossary file not found")


SHIPPED = str(REPO / "models" / "hanyi-en-zh")  # named only: these errors come before it loads


def test_documents_that_cannot_be_read_are_one_line(capsys, tmp_path):
    folder = tmp_path / "site.html"
    folder.mkdir()
    assert "is a directory" in user_error(capsys, "translate", "--model", SHIPPED, "-i",
                                          str(folder))
    for name in ("empty.md", "blank.html"):
        (tmp_path / name).write_text("" if name == "empty.md" else " \n\n", encoding="utf-8")
        assert "is empty" in user_error(capsys, "translate", "--model", SHIPPED, "-i",
                                        str(tmp_path / name))
    broken = tmp_path / "page.html"
    broken.write_bytes(b"<p>fine</p>\n<p>caf\xe9</p>\n")  # Latin-1, not UTF-8, on line 2
    line = user_error(capsys, "translate", "--model", SHIPPED, "-i", str(broken))
    assert f"{broken}:2" in line and "invalid UTF-8" in line
    assert "translates a file" in user_error(capsys, "translate", "--model", SHIPPED,
                                             "--format", "markdown", "# Hi")
    assert "not found" in user_error(capsys, "translate", "--model", SHIPPED, "-i",
                                     str(tmp_path / "missing.md"))


def test_resume_compares_configs_not_yaml_text(tmp_path):
    """A run saved before a config key existed resumes (the key has its default); a run
    with another model or tokenizer does not."""
    from hanyi.cli.train import check_run_dir
    from hanyi.config import config_to_yaml, load_config

    cfg = load_config(TINY)
    saved = yaml.safe_load(config_to_yaml(cfg))
    del saved["tokenizer"]["slot_symbols"]  # as written before the key was added
    saved["tokenizer"]["max_sentences"] = 200_000  # the default before the 16th session
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")
    (tmp_path / "LATEST").write_text("x")
    check_run_dir(tmp_path, True, cfg)
    saved["model"]["d_model"] = cfg.model.d_model * 2
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")
    with pytest.raises(ConfigError, match="model section differs"):
        check_run_dir(tmp_path, True, cfg)
    saved["model"]["d_model"] = cfg.model.d_model
    saved["tokenizer"]["src_vocab_size"] += 1
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")
    with pytest.raises(ConfigError, match="tokenizer section differs"):
        check_run_dir(tmp_path, True, cfg)
