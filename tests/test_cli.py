"""The command line end to end: prepare -> train -> translate -> evaluate on
configs/tiny.yaml (via the `tiny_run` fixture)."""

from __future__ import annotations

import json

import pytest

from hanyi.cli.__main__ import COMMANDS

from conftest import hanyi


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
