"""How well the script rule (tokenization/script.py) tells English input from Chinese.

200 lines from FLORES dev (../shared/data/dev-general, never trained on): 70 English, 70
Chinese, 30 English with a Chinese name or term in it, 30 Chinese with an English word in
it. English lines (mixed ones too) must be translated; Chinese ones passed through.

    python bench/script_detect.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from hanyi.tokenization.script import is_in_language

REPO = Path(__file__).resolve().parents[1]


def lines(folder: Path, side: str) -> list[str]:
    return (folder / f"dev.{side}").read_text(encoding="utf-8").splitlines()


def build(data: Path, seed: int = 0) -> list[tuple[str, str, bool]]:
    """(kind, text, should be translated as English)."""
    folder = data / "dev-general" / "flores-dev"
    en, zh = lines(folder, "en"), lines(folder, "zh")
    rng = random.Random(seed)
    order = rng.sample(range(len(en)), 200)
    cases = [("english", en[i], True) for i in order[:70]]
    cases += [("chinese", zh[i], False) for i in order[70:140]]
    for i in order[140:170]:  # an English sentence quoting a Chinese term of its translation
        han = re.findall(r"[\u4e00-\u9fff]{2,4}", zh[i])
        cases.append(("english + Chinese term", f"{en[i]} ({han[0] if han else '中国'})", True))
    for i in order[170:200]:  # a Chinese sentence with an English word of its source
        words = [w for w in re.findall(r"[A-Za-z]{4,}", en[i])] or ["Google"]
        cut = len(zh[i]) // 2
        cases.append(("Chinese + English word",
                      f"{zh[i][:cut]} {rng.choice(words)} {zh[i][cut:]}", False))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    cases = build(Path(args.data))
    kinds: dict[str, list[bool]] = {}
    for kind, text, english in cases:
        kinds.setdefault(kind, []).append(is_in_language(text, "en") == english)
    print("| lines | n | correct |")
    print("|---|---|---|")
    for kind, right in kinds.items():
        print(f"| {kind} | {len(right)} | {sum(right)} ({100 * sum(right) / len(right):.0f}%) |")
    total = [r for right in kinds.values() for r in right]
    print(f"| all | {len(total)} | {sum(total)} ({100 * sum(total) / len(total):.1f}%) |")
    wrong = [(k, t) for (k, t, e) in cases if is_in_language(t, "en") != e]
    for kind, text in wrong[:10]:
        print(f"  wrong ({kind}): {text[:100]}")


if __name__ == "__main__":
    main()
