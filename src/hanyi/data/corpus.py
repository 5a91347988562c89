"""Reading and cleaning parallel text.

Every line that is dropped is counted under a named reason and logged with its file and
line number — nothing disappears silently. Reasons:

``fields``   a TSV line without exactly 2 fields (3 when the source has attribution)
``utf8``     not valid UTF-8
``empty``    an empty side after normalisation
``too_long`` longer than data.max_en_chars / data.max_zh_chars
``ratio``    len(en) / len(zh) outside [data.min_ratio, data.max_ratio] (misalignment)
``no_han``   the Chinese side has no Chinese character (untranslated)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hanyi.config import DataConfig, SourceConfig
from hanyi.errors import DataError
from hanyi.tokenization.normalize import normalize_en, normalize_zh

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass
class Pair:
    en: str
    zh: str
    origin: str  # "file:line", for logs


@dataclass
class Rejects:
    """Counts of dropped lines per reason, plus a log line for each."""

    counts: Counter = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)

    def add(self, reason: str, origin: str, detail: str = "") -> None:
        self.counts[reason] += 1
        self.log.append(f"{origin}\t{reason}\t{detail[:200]}")


def _read_lines(path: Path) -> list[bytes]:
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # UTF-8 byte-order mark
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # a final newline does not start a new record
    return [line.rstrip(b"\r") for line in lines]


def _utf8(raw: bytes, origin: str) -> tuple[str | None, str]:
    """The decoded line, or None and why (for the rejects log)."""
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        return None, f"{origin} byte {exc.start}"


def _decode(raw: bytes, origin: str, rejects: Rejects) -> str | None:
    text, why = _utf8(raw, origin)
    if text is None:
        rejects.add("utf8", origin, why)
    return text


def _decode_pair(raw_en: bytes, raw_zh: bytes, en_origin: str, zh_origin: str,
                 rejects: Rejects) -> tuple[str, str] | None:
    """Decode one line of each side of a parallel source; one reject per pair, not per side."""
    (en, en_why), (zh, zh_why) = _utf8(raw_en, en_origin), _utf8(raw_zh, zh_origin)
    if en is None or zh is None:
        rejects.add("utf8", en_origin if en is None else zh_origin,
                    "; ".join(w for w in (en_why, zh_why) if w))
        return None
    return en, zh


def read_raw(source: SourceConfig, root: Path, rejects: Rejects) -> Iterator[Pair]:
    """Yield un-normalised pairs of one source; malformed lines go to ``rejects``."""
    path = root / source.path
    if source.format == "parallel":
        en_path, zh_path = Path(f"{path}.en"), Path(f"{path}.zh")
        en_lines, zh_lines = _read_lines(en_path), _read_lines(zh_path)
        if len(en_lines) != len(zh_lines):
            raise DataError(f"{en_path} has {len(en_lines)} lines but {zh_path} has "
                            f"{len(zh_lines)}: the files must be line-aligned")
        for n, (raw_en, raw_zh) in enumerate(zip(en_lines, zh_lines), start=1):
            if source.max_pairs is not None and n > source.max_pairs:
                return
            origin = f"{en_path}:{n}"
            texts = _decode_pair(raw_en, raw_zh, origin, f"{zh_path}:{n}", rejects)
            if texts is not None:
                yield Pair(texts[0], texts[1], origin)
        return
    allowed = (2, 3) if source.attribution else (2,)
    for n, raw in enumerate(_read_lines(path), start=1):
        if source.max_pairs is not None and n > source.max_pairs:
            return
        origin = f"{path}:{n}"
        text = _decode(raw, origin, rejects)
        if text is None:
            continue
        fields = text.split("\t")
        if len(fields) not in allowed:
            rejects.add("fields", origin, f"{len(fields)} tab-separated fields")
            continue
        yield Pair(fields[0], fields[1], origin)


def clean(pair: Pair, cfg: DataConfig, rejects: Rejects) -> Pair | None:
    """Normalise both sides and apply the filters; None if the pair is dropped."""
    en, zh = normalize_en(pair.en), normalize_zh(pair.zh)
    if not en or not zh:
        rejects.add("empty", pair.origin)
        return None
    if len(en) > cfg.max_en_chars or len(zh) > cfg.max_zh_chars:
        rejects.add("too_long", pair.origin, f"{len(en)}/{len(zh)} chars")
        return None
    if not _HAN.search(zh):
        rejects.add("no_han", pair.origin, zh)
        return None
    ratio = len(en) / len(zh)
    if not cfg.min_ratio <= ratio <= cfg.max_ratio:
        rejects.add("ratio", pair.origin, f"{ratio:.2f}")
        return None
    return Pair(en, zh, pair.origin)


def english_key(en: str) -> str:
    """What "the same English sentence" means for leak checks: case and spacing ignored."""
    return " ".join(en.lower().split())
