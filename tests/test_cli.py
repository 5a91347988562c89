"""The command line end to end (prepare -> train -> translate -> evaluate on
configs/tiny.yaml, via the `tiny_run` fixture) and every user error: one line
`hanyi: error: ...`, exit status 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hanyi.cli.__main__ import COMMANDS, main

REPO = Path(__file__).resolve().parents[1]


def hanyi(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HANYI_NO_MALLOC_TUNING": "1",
           "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "hanyi", *args], input=stdin,
                          capture_output=True, env=env, timeout=300)


def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("hanyi: error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def model(tiny_run) -> str:
    return str(tiny_run / "run" / "best")


def test_translate_arguments_keep_line_count_and_empty_lines(model):
    proc = hanyi("translate", "--model", model, "I love you.", "", "Where is Tom?")
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""
    assert any("\u4e00" <= ch <= "\u9fff" for ch in lines[0] + lines[2])


def test_translate_file_and_stdin_give_the_same_output(model, tmp_path):
    src = tmp_path / "in.en"
    src.write_text("Good morning.\n\nI am hungry.\nThank you.\n", encoding="utf-8")
    out = tmp_path / "out.zh"
    assert hanyi("translate", "--model", model, "-i", str(src), "-o", str(out)).returncode == 0
    piped = hanyi("translate", "--model", model, stdin=src.read_bytes())
    assert piped.stdout.decode() == out.read_text(encoding="utf-8")
    assert len(out.read_text(encoding="utf-8").splitlines()) == 4
    assert out.read_text(encoding="utf-8").splitlines()[1] == ""


def test_nbest_alternatives_share_the_input_line(model):
    proc = hanyi("translate", "--model", model, "--beam", "5", "--nbest", "3", "--scores",
                 "I am a student.")
    assert proc.returncode == 0
    (line,) = proc.stdout.decode().splitlines()
    alternatives = line.split("\t")
    assert len(alternatives) == 3 and all(" ||| " in a for a in alternatives)
    scores = [float(a.rsplit(" ||| ", 1)[1]) for a in alternatives]
    assert scores == sorted(scores, reverse=True)


def test_evaluate_prints_bleu_and_chrf_with_signatures(model, tiny_run):
    data = tiny_run / "data"
    args = ["evaluate", "--model", model, "--src", str(data / "test.en"),
            "--ref", str(data / "test.zh")]
    text = hanyi(*args).stdout.decode()
    assert "tok:zh" in text and "chrF" in text
    report = json.loads(hanyi(*args, "--json", "--beam", "1").stdout)
    assert report["bleu"]["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:zh")
    assert report["bleu"]["score"] > 1.0 and report["sentences"] == 200
    assert "chrf" in report and report["beam"] == 1


def test_training_wrote_a_complete_run(tiny_run):
    run = tiny_run / "run"
    for name in ("best/model.safetensors", "best/config.yaml", "best/src.model",
                 "best/tgt.model", "LATEST", "history.jsonl", "summary.json", "config.yaml"):
        assert (run / name).exists(), name
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["reason"] == "max_steps" and summary["best_bleu"] > 1.0


def test_python_dash_m_and_help_of_every_command():
    for command in COMMANDS:
        proc = hanyi(command, "--help")
        assert proc.returncode == 0 and b"usage: hanyi " + command.encode() in proc.stdout


# ---------------------------------------------------------------------- bad input
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
    proc = hanyi("prepare", str(config))
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
