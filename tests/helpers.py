"""Plain helpers shared by test modules (fixtures live in conftest.py).

Kept out of conftest.py because tests/serve has a conftest.py of its own, and two
modules named ``conftest`` cannot both be imported by name.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HANYI_SHARED_DATA", REPO.parent / "shared" / "data"))


# Tests of device-dependent numerics (kernels, cached decoding, training) run on every
# device: "cuda" carries the `gpu` marker, so it is skipped where there is no GPU and runs
# (`pytest -m gpu`) on a machine with one.
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def synthetic_sentences(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Made-up English/Chinese sentence pairs (our own fixture, not from ../shared/data)."""
    rng = random.Random(seed)
    who = [("I", "我"), ("you", "你"), ("Tom", "汤姆"), ("we", "我们"), ("Mary", "玛丽")]
    what = [("like tea", "喜欢茶"), ("see a cat", "看见一只猫"), ("want rice", "想要米饭"),
            ("read books", "读书"), ("love music", "爱音乐"), ("drink water", "喝水")]
    en, zh = [], []
    for _ in range(n):
        (e1, z1), (e2, z2) = rng.choice(who), rng.choice(what)
        en.append(f"{e1} {e2}.")
        zh.append(f"{z1}{z2}。")
    return en, zh


# A small made-up language pair with real structure, for tests that train a model end to
# end (the `tiny_run` fixture): subjects, verbs with third-person -s, objects, negation,
# yes/no and where-questions, places and times that move in Chinese (时间/地点 before the
# verb), and numbers with measure words. Ours, generated: no corpus data in the repository.
SUBJECTS = [("I", "我", 1), ("you", "你", 2), ("we", "我们", 1), ("they", "他们", 1),
            ("he", "他", 3), ("she", "她", 3), ("Tom", "汤姆", 3), ("Mary", "玛丽", 3),
            ("my father", "我父亲", 3), ("the teacher", "老师", 3),
            ("the children", "孩子们", 1), ("our neighbour", "我们的邻居", 3)]
VERBS = {"food": [("like", "喜欢"), ("want", "想要"), ("buy", "买"), ("eat", "吃")],
         "drink": [("like", "喜欢"), ("want", "想要"), ("drink", "喝"), ("need", "需要")],
         "thing": [("see", "看见"), ("buy", "买"), ("need", "需要"), ("love", "爱")],
         "text": [("read", "读"), ("write", "写"), ("like", "喜欢")],
         "person": [("love", "爱"), ("see", "看见"), ("help", "帮助"), ("know", "认识")]}
OBJECTS = {"food": [("rice", "米饭"), ("noodles", "面条"), ("apples", "苹果"),
                    ("bread", "面包"), ("fish", "鱼")],
           "drink": [("tea", "茶"), ("water", "水"), ("coffee", "咖啡"), ("milk", "牛奶"),
                     ("juice", "果汁")],
           "thing": [("a cat", "一只猫"), ("a new car", "一辆新车"), ("flowers", "花"),
                     ("the old house", "那座老房子"), ("a red bag", "一个红色的包")],
           "text": [("books", "书"), ("the letter", "那封信"), ("a newspaper", "一份报纸"),
                    ("poems", "诗")],
           "person": [("you", "你"), ("him", "他"), ("her", "她"), ("Tom", "汤姆"),
                      ("Mary", "玛丽")]}
TIMES = [("today", "今天"), ("tomorrow", "明天"), ("every morning", "每天早上"),
         ("on Sunday", "星期天"), ("at night", "晚上")]
PLACES = [("at home", "在家"), ("at school", "在学校"), ("in the park", "在公园里"),
          ("in Beijing", "在北京")]
COUNTED = [("cat", "cats", "只猫"), ("book", "books", "本书"), ("car", "cars", "辆车"),
           ("apple", "apples", "个苹果")]


def _third(verb: str, person: int) -> str:
    if person != 3:
        return verb
    return verb + ("es" if verb.endswith(("sh", "ch")) else "s")


def _synthetic_pair(rng: random.Random) -> tuple[str, str]:
    (s_en, s_zh, person) = rng.choice(SUBJECTS)
    kind = rng.choice(sorted(VERBS))
    (v_en, v_zh), (o_en, o_zh) = rng.choice(VERBS[kind]), rng.choice(OBJECTS[kind])
    form = rng.random()
    cap = s_en[0].upper() + s_en[1:]
    if form < 0.1:
        be = "am" if s_en == "I" else "is" if person == 3 else "are"
        return f"Where {be} {s_en}?", f"{s_zh}在哪里？"
    if form < 0.2:
        (one, many, measure) = rng.choice(COUNTED)
        n = rng.randint(2, 99)
        has = "has" if person == 3 else "have"
        return f"{cap} {has} {n} {many}.", f"{s_zh}有{n}{measure}。"
    if form < 0.35:
        do = "Does" if person == 3 else "Do"
        return f"{do} {s_en} {v_en} {o_en}?", f"{s_zh}{v_zh}{o_zh}吗？"
    if form < 0.5:
        dont = "doesn't" if person == 3 else "don't"
        return f"{cap} {dont} {v_en} {o_en}.", f"{s_zh}不{v_zh}{o_zh}。"
    (t_en, t_zh), (p_en, p_zh) = rng.choice(TIMES), rng.choice(PLACES)
    extra = rng.random()
    if extra < 0.3:
        return f"{cap} {_third(v_en, person)} {o_en} {t_en}.", f"{s_zh}{t_zh}{v_zh}{o_zh}。"
    if extra < 0.6:
        return f"{cap} {_third(v_en, person)} {o_en} {p_en}.", f"{s_zh}{p_zh}{v_zh}{o_zh}。"
    if extra < 0.8:
        return (f"{cap} {_third(v_en, person)} {o_en} {p_en} {t_en}.",
                f"{s_zh}{t_zh}{p_zh}{v_zh}{o_zh}。")
    return f"{cap} {_third(v_en, person)} {o_en}.", f"{s_zh}{v_zh}{o_zh}。"


def synthetic_corpus(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` sentence pairs of the made-up language pair above (duplicates possible)."""
    rng = random.Random(seed)
    pairs = [_synthetic_pair(rng) for _ in range(n)]
    return [e for e, _ in pairs], [z for _, z in pairs]


def write_synthetic_tsv(path: Path, n: int, seed: int = 0) -> Path:
    """A `format: tsv` source file of :func:`synthetic_corpus` pairs."""
    en, zh = synthetic_corpus(n, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{e}\t{z}\n" for e, z in zip(en, zh, strict=True)), "utf-8")
    return path


def hanyi(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m hanyi ARGS`` in a subprocess on this worktree's code."""
    env = {**os.environ, "HANYI_NO_MALLOC_TUNING": "1",
           "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "hanyi", *args], input=stdin,
                          capture_output=True, env=env, timeout=300)


def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit status 2, exactly one ``hanyi: error:`` line holding every fragment, no traceback."""
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("hanyi: error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def train_through_cli(main, argv: list[str]) -> None:
    """Run `hanyi train` in this process (``main`` is the CLI entry point)."""
    os.environ.setdefault("HANYI_NO_MALLOC_TUNING", "1")  # no re-exec inside pytest
    # `train` installs its Ctrl-C/SIGTERM handlers (save and stop); give pytest its own back.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert main(argv) == 0
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def vivid_model(vocabs, cfg, seed: int = 0):
    """A random model (eval mode) whose outputs are not degenerate: scaled-up Linear
    weights make the argmax vary with the input (plain random models repeat one token)."""
    import torch

    from hanyi.model import build_model

    torch.manual_seed(seed)
    model = build_model(cfg, *vocabs).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module is not model.output_proj:
                module.weight.mul_(3.0)
    return model
