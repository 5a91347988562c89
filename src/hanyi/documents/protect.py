"""Spans that must not be translated, and glossary terms that must be translated one way.

URLs, e-mail addresses, inline code (`` `x` ``), printf/format placeholders (``%s``,
``%(count)d``, ``{name}``), the user's ``--keep`` terms and glossary terms are replaced, before
translation, by a *slot*: a number the source does not otherwise contain (7301, 7302, ...).
Our model copies numbers written in digits reliably (and the number rescue of the
Translator, inference/numbers.py, prefers a hypothesis that keeps them all), so the slot
comes out in the translation, where it is replaced by the original span — or, for a glossary
term, by the Chinese the glossary requires.

If the model drops a slot, the span is never lost: it is appended to the end of the
translation (separated by a space), so a URL, a placeholder or a required term is always in
the output, if not always in the right place. :func:`restore` reports which slots were
missing, so callers can count them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hanyi.data.slots import FIRST_SLOT

# What is never translated, most specific first (a URL may contain an e-mail-like part).
PROTECTED = re.compile(
    r"(?P<url>\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]])"
    r"|(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b)"
    r"|(?P<code>`[^`\n]+`)"
    r"|(?P<printf>%(?:\([\w.]+\))?[-+#0]*\d*(?:\.\d+)?[sdifgexXorcu%])"
    r"|(?P<format>\{[\w.]*(?:![rsa])?(?::[^{}]*)?\})")


@dataclass
class Protected:
    text: str  # the text with slots instead of the protected spans
    slots: dict[str, str] = field(default_factory=dict)  # slot -> what it stands for


def _glossary_pattern(term: str) -> re.Pattern:
    """A term, case-insensitive, whole words, with a simple plural: "tax return" also
    matches "Tax returns"; "policy" matches "policies"."""
    words = term.split()
    last = re.escape(words[-1])
    if words[-1].endswith("y") and len(words[-1]) > 1:
        last = re.escape(words[-1][:-1]) + r"(?:y|ies)"
    else:
        last += r"(?:s|es)?"
    body = r"\s+".join([*map(re.escape, words[:-1]), last])
    return re.compile(rf"(?<![\w-]){body}(?![\w-])", re.IGNORECASE)


def protect(text: str, keep: tuple[str, ...] = (), glossary: dict[str, str] | None = None,
            fallback: dict[str, str] | None = None) -> Protected:
    """Replace protected spans, ``keep`` terms and ``glossary`` terms by slots; then the
    ``fallback`` words (inference/lexicon.py), each as written (case and form exact), where
    the user's terms left them."""
    taken = set(re.findall(r"\d+", text))
    counter = FIRST_SLOT  # the numbers data/slots.py teaches the model to copy
    slots: dict[str, str] = {}

    def new_slot(value: str) -> str:
        nonlocal counter
        while str(counter) in taken:
            counter += 1
        slot = str(counter)
        taken.add(slot)
        slots[slot] = value
        return slot

    out = PROTECTED.sub(lambda m: f" {new_slot(m.group())} " if m.group("code") else
                        new_slot(m.group()), text)
    for term in sorted(keep, key=len, reverse=True):  # longest first: "New York Times"
        if term.strip():
            out = _glossary_pattern(term).sub(lambda m: new_slot(m.group()), out)
    for term, chinese in sorted((glossary or {}).items(), key=lambda kv: -len(kv[0])):
        if term.strip():
            out = _glossary_pattern(term).sub(lambda m, zh=chinese: new_slot(zh), out)
    for word, chinese in (fallback or {}).items():
        out = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])",
                     lambda m, zh=chinese: new_slot(zh), out)
    return Protected(re.sub(r"  +", " ", out).strip() if out != text else text, slots)


def restore(translation: str, slots: dict[str, str]) -> tuple[str, list[str]]:
    """Put the spans back; returns the text and the slots the model dropped (their spans
    are appended at the end). A slot the model wrote twice stands for one span: the span
    goes where it came first, and the repeat goes (it would be a stray number)."""
    missing = []
    for slot, value in slots.items():
        pattern = re.compile(rf"(?<!\d){slot}(?!\d)")
        first = pattern.search(translation)
        if first:
            rest = pattern.sub("", translation[first.end():])
            translation = translation[:first.start()] + value + rest
        else:
            missing.append(slot)
    if missing:
        translation = " ".join([translation, *(slots[s] for s in missing)]).strip()
    return translation, missing


def load_glossary(path) -> dict[str, str]:
    """A glossary file: ``English term<TAB>required Chinese`` per line, ``#`` comments and
    blank lines ignored. Errors name file:line."""
    from pathlib import Path

    from hanyi.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"glossary file not found: {path}")
    glossary: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise InputError(f"{path}:{number}: expected 'English term<TAB>Chinese', "
                             f"got {line!r}")
        glossary[fields[0].strip()] = fields[1].strip()
    return glossary
