"""The command line end to end: prepare -> train -> translate -> evaluate on
configs/tiny.yaml (via the `tiny_run` fixture)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, hanyi, train_through_cli

from hanyi.cli.__main__ import COMMANDS, main


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
    fields = [a.split(" ||| ") for a in alternatives]  # text ||| score ||| confidence
    assert all(len(f) == 3 and 0.0 <= float(f[2]) <= 1.0 for f in fields)
    scores = [float(f[1]) for f in fields]
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
    assert report["lexicon_fallback"] is None and "lexicon fallback: off" in text  # no counts


@pytest.mark.shared
def test_tiny_recipe_on_the_shared_corpus(shared_data, tmp_path):
    """configs/tiny.yaml as written, on the real Tatoeba slice: prepare, then a few updates
    and a translation (the other CLI tests use the synthetic corpus of `tiny_run`)."""
    common = ["--set", f"data.root={shared_data}", "--set", f"data.dir={tmp_path / 'data'}"]
    tiny = str(REPO / "configs" / "tiny.yaml")
    assert main(["prepare", tiny, *common]) == 0
    stats = json.loads((tmp_path / "data" / "stats.json").read_text(encoding="utf-8"))
    assert stats["splits"]["dev"] == 200 and stats["splits"]["test"] == 200
    train_through_cli(main, ["train", tiny, "--out", str(tmp_path / "run"), "--device", "cpu",
                             *common, "--set", "train.max_steps=20", "--set",
                             "train.eval_every=20", "--set", "train.dev_bleu_sentences=20"])
    proc = hanyi("translate", "--model", str(tmp_path / "run" / "best"), "I love you.")
    assert proc.returncode == 0 and proc.stdout.decode().strip(), proc.stderr.decode()


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


def test_console_script_is_the_same_program_as_python_dash_m():
    script = shutil.which("hanyi", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the `hanyi` console script is not installed in this environment")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    console = subprocess.run([script, "translate", "--help"], capture_output=True, env=env,
                             timeout=120)
    module = hanyi("translate", "--help")
    assert console.returncode == module.returncode == 0
    assert console.stdout == module.stdout and b"--nbest" in console.stdout


def test_blank_lines_and_crlf_keep_the_line_count(model):
    proc = hanyi("translate", "--model", model, "--beam", "1", stdin=b"\n\n\n")
    assert proc.returncode == 0 and proc.stdout == b"\n\n\n"
    proc = hanyi("translate", "--model", model, "--beam", "3", "--nbest", "2",
                 stdin=b"Hello.\r\n\r\nI am tired.\r\n")
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""
    assert all("\r" not in line for line in lines)


def test_evaluate_writes_one_hypothesis_per_source_line(model, tiny_run, tmp_path):
    data = tiny_run / "data"
    src = tmp_path / "src.en"
    src.write_text("".join(data.joinpath("test.en").read_text("utf-8").splitlines(True)[:20]),
                   encoding="utf-8")
    ref = tmp_path / "ref.zh"
    ref.write_text("".join(data.joinpath("test.zh").read_text("utf-8").splitlines(True)[:20]),
                   encoding="utf-8")
    hyp = tmp_path / "hyp.zh"
    proc = hanyi("evaluate", "--model", model, "--src", str(src), "--ref", str(ref),
                 "--hyp-out", str(hyp), "--json", "--beam", "1")
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert report["sentences"] == 20 and len(hyp.read_text("utf-8").splitlines()) == 20
    assert report["chrf"]["signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0")
    # the same hypotheses as `translate` with the same settings
    translated = hanyi("translate", "--model", model, "--beam", "1", "-i", str(src))
    assert translated.stdout.decode() == hyp.read_text("utf-8")


def test_evaluate_scores_every_eval_set_of_a_config_per_length(model, tiny_run, tmp_path):
    data = tiny_run / "data"
    cfg = tmp_path / "sets.yaml"
    cfg.write_text(
        f"data: {{dir: {data}}}\n"
        "eval_sets:\n"
        "  - {name: test, src: '{data.dir}/test.en', ref: '{data.dir}/test.zh'}\n"
        "  - {name: dev, src: '{data.dir}/dev.en', ref: '{data.dir}/dev.zh'}\n",
        encoding="utf-8")
    proc = hanyi("evaluate", "--model", model, "--config", str(cfg), "--by-length", "--json",
                 "--beam", "1", "--hyp-out", str(tmp_path / "hyps"))
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert set(report["sets"]) == {"test", "dev"}
    test = report["sets"]["test"]
    assert sum(row["sentences"] for row in test["by_length"]) == test["sentences"] == 200
    assert {row["words"] for row in test["by_length"]} <= {"1-5", "6-8", "9-12", "13-20", "21+"}
    assert len((tmp_path / "hyps" / "dev.zh").read_text("utf-8").splitlines()) == 200
    only = json.loads(hanyi("evaluate", "--model", model, "--config", str(cfg), "--sets",
                            "dev", "--json", "--beam", "1").stdout)
    assert list(only["sets"]) == ["dev"]
    text = hanyi("evaluate", "--model", model, "--config", str(cfg), "--beam", "1").stdout
    assert "== test" in text.decode() and "== dev" in text.decode()


def test_evaluate_without_sets_or_src_says_what_to_give(model, tmp_path):
    from helpers import assert_user_error

    assert_user_error(hanyi("evaluate", "--model", model), "no eval_sets", "--src")
    cfg = tmp_path / "sets.yaml"
    cfg.write_text("eval_sets:\n  - {name: a, src: x.en, ref: x.zh}\n", encoding="utf-8")
    assert_user_error(hanyi("evaluate", "--model", model, "--config", str(cfg), "--sets", "b"),
                      "no eval set named 'b'", "choose from a")
    assert_user_error(hanyi("evaluate", "--model", model, "--src", "x.en"), "both --src")


def test_confidence_is_calibrated_on_a_dev_set_and_garbage_scores_lower(model, tiny_run,
                                                                         tmp_path):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    data = tiny_run / "data"
    proc = hanyi("evaluate", "--model", str(copy), "--src", str(data / "dev.en"),
                 "--ref", str(data / "dev.zh"), "--calibrate", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert (copy / "confidence.json").is_file() and report["calibration"]["sentences"] == 200
    assert report["calibration"]["a"] > 0  # higher log-probability, more confidence
    proc = hanyi("translate", "--model", str(copy), "--scores", "--beam", "1",
                 "Tom likes tea.", "Qzx vvkp ttrr oo plmq?")
    clean, garbage = (float(line.split(" ||| ")[2])
                      for line in proc.stdout.decode().splitlines())
    assert 0 <= garbage < clean <= 1


def test_subtitles_and_catalogues_are_translated_with_their_structure(model, tmp_path):
    import polib
    import srt

    film = tmp_path / "film.srt"
    film.write_text("1\n00:00:01,000 --> 00:00:02,000\nI love you.\n\n"
                    "2\n00:00:03,500 --> 00:00:05,000\nWhere is Tom?\n", encoding="utf-8")
    out = tmp_path / "film.zh.srt"
    proc = hanyi("translate", "--model", model, "-i", str(film), "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    cues = list(srt.parse(out.read_text(encoding="utf-8")))
    assert [(c.index, str(c.start), str(c.end)) for c in cues] == [
        (1, "0:00:01", "0:00:02"), (2, "0:00:03.500000", "0:00:05")]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in c.content) for c in cues)
    catalogue = tmp_path / "app.po"
    catalogue.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                         'msgid "Tom has %d cats."\nmsgstr ""\n', encoding="utf-8")
    proc = hanyi("translate", "--model", model, "-i", str(catalogue))
    assert proc.returncode == 0, proc.stderr.decode()
    (entry,) = polib.pofile(proc.stdout.decode())
    assert "%d" in entry.msgstr and "fuzzy" in entry.flags


def test_markdown_and_html_files_keep_their_structure(tmp_path):
    """The shipped model (any model would do): text in Chinese, markup and code kept."""
    from html.parser import HTMLParser

    from hanyi.documents.markdown_doc import parser

    shipped = str(REPO / "models" / "hanyi-en-zh")
    guide = tmp_path / "guide.md"
    guide.write_text("# Getting started\n\nRead the *manual* before you begin.\n\n"
                     "- Open the [settings](https://example.com/s) page.\n\n"
                     "```bash\nhanyi translate \"Hello\"\n```\n", encoding="utf-8")
    out = tmp_path / "guide.zh.md"
    proc = hanyi("translate", "--model", shipped, "-i", str(guide), "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    text = out.read_text(encoding="utf-8")
    kinds = lambda s: [t.type for t in parser().parse(s)]  # noqa: E731
    assert kinds(text) == kinds(guide.read_text(encoding="utf-8"))
    assert "```bash\nhanyi translate \"Hello\"\n```" in text and "(https://example.com/s)" in text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text.split("\n")[0])

    class Tags(HTMLParser):
        def __init__(self, s):
            super().__init__()
            self.tags = []
            self.feed(s)

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, [a for a in attrs if a[0] != "alt"]))

        def handle_endtag(self, tag):
            self.tags.append(("/" + tag, []))

    page = "<h1>Welcome</h1><p>Please <a href='/in'>sign in</a> now.</p><img alt='A cat'>"
    for inline in ("align", "slots"):  # placed by attention (the default), or as slots
        proc = hanyi("translate", "--model", shipped, "--format", "html", "--inline", inline,
                     stdin=page.encode())
        assert proc.returncode == 0, proc.stderr.decode()
        html_out = proc.stdout.decode()
        assert Tags(html_out).tags == Tags(page).tags and "A cat" not in html_out
    proc = hanyi("translate", "--model", shipped, "--format", "html", "--inline", "tags",
                 stdin=page.encode())
    assert proc.returncode == 2 and b"--inline" in proc.stderr
