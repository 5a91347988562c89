"""Reading and cleaning parallel text.

Every line that is dropped is counted under a named reason and logged with its file and
line number — nothing disappears silently. Reasons:

``fields``   a TSV line without exactly 2 fields (3 when the source has attribution)
``utf8``     not valid UTF-8
``empty``    an empty side after normalisation
``too_long`` longer than data.max_en_chars / data.max_zh_chars
``ratio``    len(en) / len(zh) outside [data.min_ratio, data.max_ratio] (misalignment)
``no_han``   the Chinese side has no Chinese character (untranslated)
``fuzzy`` / ``untranslated`` / ``plural`` / ``obsolete``   gettext entries that are not
             one reviewed msgid -> msgstr pair (``format: po``)
``placeholder``  a UI string with ``%s`` / ``{0}`` / ``%1`` (``ui_strings: true``)
``few_words``  fewer English words than the source's ``min_words``
"""

from __future__ import annotations

import gzip
import itertools
import lzma
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from hanyi.config import DataConfig, SourceConfig
from hanyi.data.lexicon import cedict_pairs, resolve
from hanyi.data.markup import clean_markup, has_placeholder, strip_accelerators
from hanyi.errors import DataError
from hanyi.tokenization.normalize import collapse_spaces, normalize_en, normalize_zh
from hanyi.tokenization.script import is_in_language
from hanyi.tokenization.sentences import split_en, split_zh

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass
class Pair:
    en: str
    zh: str
    origin: str  # "file:line", for logs
    source: str = ""  # the name of the source it came from


@dataclass
class Rejects:
    """Counts of dropped lines per reason, plus a log line for each — kept in ``log``, or
    written to ``sink`` (an open text file) as they come when the corpus is large."""

    counts: Counter = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    sink: TextIO | None = None

    def add(self, reason: str, origin: str, detail: str = "") -> None:
        self.counts[reason] += 1
        line = f"{origin}\t{reason}\t{detail[:200]}"
        if self.sink is None:
            self.log.append(line)
        else:
            self.sink.write(line + "\n")

    def merge(self, other: Rejects) -> None:
        """Take over what ``other`` (e.g. a worker process's) collected."""
        self.counts.update(other.counts)
        if self.sink is None:
            self.log.extend(other.log)
        else:
            self.sink.writelines(line + "\n" for line in other.log)


_COMPRESSED = {".xz": lzma.decompress, ".gz": gzip.decompress}


def find_file(path: Path) -> Path:
    """``path`` itself, else ``path.xz`` or ``path.gz``: corpora often arrive compressed."""
    for candidate in (path, *(Path(f"{path}{ext}") for ext in _COMPRESSED)):
        if candidate.is_file():
            return candidate
    raise DataError(f"data file not found: {path} (nor {path}.xz / {path}.gz)")


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when its name ends in .xz or .gz."""
    data = path.read_bytes()
    unpack = _COMPRESSED.get(path.suffix)
    if unpack is None:
        return data
    try:
        return unpack(data)
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot decompress ({exc})") from None


def _raw_lines(path: Path) -> Iterator[bytes]:
    """The file's lines as read (line ends kept), streamed and decompressed on the fly for
    .xz / .gz, without a UTF-8 byte-order mark. Iterating a file object is C code: the
    reading process does no per-line Python work (see :class:`LineChunk`)."""
    opener = {".xz": lzma.open, ".gz": gzip.open}.get(path.suffix, open)
    try:
        with opener(path, "rb") as f:
            first = f.readline()
            if first:
                yield first[3:] if first.startswith(b"\xef\xbb\xbf") else first
            yield from f
    except (lzma.LZMAError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot decompress ({exc})") from None


def _strip_end(raw: bytes) -> bytes:
    return raw.rstrip(b"\n").rstrip(b"\r")


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


@dataclass
class LineChunk:
    """Consecutive raw lines of a line-based source — ``parallel`` (line k of each side)
    or ``tsv`` (``zh`` is None) — undecoded. The streamed pass of `prepare` sends these to
    its worker processes, which decode them and make the pairs (:meth:`pairs`): a list of
    bytes costs ~1/14 of a list of :class:`Pair` to pickle (0.15 vs 2.1 µs a line), and
    the reading process stays free of per-line work."""

    en_path: str
    zh_path: str | None  # None: a TSV source (both sides in the lines of ``en_path``)
    first: int  # the line number of the first line
    en: list[bytes]
    zh: list[bytes] | None
    attribution: bool = False  # a TSV source's third field (Tatoeba's) is allowed

    def pairs(self, rejects: Rejects) -> Iterator[Pair]:
        """The chunk's pairs; undecodable and malformed lines go to ``rejects``."""
        if self.zh is None:
            yield from self._tsv_pairs(rejects)
            return
        for n, raw_en, raw_zh in zip(itertools.count(self.first), self.en, self.zh):
            origin = f"{self.en_path}:{n}"
            texts = _decode_pair(_strip_end(raw_en), _strip_end(raw_zh), origin,
                                 f"{self.zh_path}:{n}", rejects)
            if texts is not None:
                yield Pair(texts[0], texts[1], origin)

    def _tsv_pairs(self, rejects: Rejects) -> Iterator[Pair]:
        allowed = (2, 3) if self.attribution else (2,)
        for n, raw in zip(itertools.count(self.first), self.en):
            origin = f"{self.en_path}:{n}"
            text = _decode(_strip_end(raw), origin, rejects)
            if text is None:
                continue
            fields = text.split("\t")
            if len(fields) not in allowed:
                rejects.add("fields", origin, f"{len(fields)} tab-separated fields")
                continue
            yield Pair(fields[0], fields[1], origin)


def line_chunks(source: SourceConfig, root: Path, size: int) -> Iterator[LineChunk] | None:
    """A ``parallel`` or ``tsv`` source as chunks of ``size`` lines; None for the other
    formats (read those with :func:`read_raw`)."""
    path = resolve(source.path, root)
    if source.format == "parallel":
        paths = find_file(Path(f"{path}.en")), find_file(Path(f"{path}.zh"))
    elif source.format == "tsv":
        paths = find_file(path), None
    else:
        return None
    return _line_chunks(*paths, source.max_pairs, size, source.attribution)


def _line_chunks(en_path: Path, zh_path: Path | None, max_pairs: int | None, size: int,
                 attribution: bool) -> Iterator[LineChunk]:
    en_lines = _raw_lines(en_path)
    zh_lines = _raw_lines(zh_path) if zh_path else None
    first = 1
    while max_pairs is None or first <= max_pairs:
        take = size if max_pairs is None else min(size, max_pairs - first + 1)
        en = list(itertools.islice(en_lines, take))
        zh = list(itertools.islice(zh_lines, take)) if zh_lines else None
        if zh is not None and len(en) != len(zh):
            longer, rest = (zh_path, len(zh) - len(en) + sum(1 for _ in zh_lines)) \
                if len(zh) > len(en) else (en_path, len(en) - len(zh) + sum(1 for _ in en_lines))
            raise DataError(f"{en_path} and {zh_path} differ in line count ({longer} has "
                            f"{rest} more): the files must be line-aligned")
        if not en:
            return
        yield LineChunk(str(en_path), str(zh_path) if zh_path else None, first, en, zh,
                        attribution)
        first += len(en)


def check_source_files(sources: list[SourceConfig], root: Path) -> None:
    """Raise DataError for the first source whose file(s) are missing, before any is read:
    a typo in the last source of a config should not cost the minutes of reading the rest."""
    for source in sources:
        path = resolve(source.path, root)
        if source.format == "parallel":
            find_file(Path(f"{path}.en")), find_file(Path(f"{path}.zh"))
        elif source.format == "po":
            _po_files(path)
        else:  # tsv, cedict: one file
            find_file(path)


def read_raw(source: SourceConfig, root: Path, rejects: Rejects) -> Iterator[Pair]:
    """Yield un-normalised pairs of one source; malformed lines go to ``rejects``."""
    chunks = line_chunks(source, root, 10_000)
    if chunks is not None:
        for chunk in chunks:
            yield from chunk.pairs(rejects)
        return
    path = resolve(source.path, root)
    if source.format == "cedict":
        yield from _read_cedict(path, source.max_pairs, rejects)
    else:  # "po", the one format left (the config allows no others)
        yield from read_po(path, source.max_pairs, rejects)


def _read_cedict(path: Path, max_pairs: int | None, rejects: Rejects) -> Iterator[Pair]:
    path = find_file(path)
    text = _decode(read_bytes(path), str(path), rejects)
    if text is None:
        raise DataError(f"{path}: not UTF-8")
    for taken, (number, en, zh) in enumerate(cedict_pairs(text.splitlines())):
        if max_pairs is not None and taken >= max_pairs:
            return
        yield Pair(en, zh, f"{path}:{number}")


def _po_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"gettext catalogue(s) not found: {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file()
                   and p.name.endswith((".po", ".po.xz", ".po.gz")))
    if not files:
        raise DataError(f"{path}: no *.po / *.po.xz / *.po.gz catalogue in this directory")
    return files


def read_po(path: Path, max_pairs: int | None, rejects: Rejects) -> Iterator[Pair]:
    """msgid -> msgstr of every reviewed, translated, singular entry of the catalogue(s)."""
    import polib

    taken = 0
    for file in _po_files(path):
        text = _decode(read_bytes(file), str(file), rejects)
        if text is None:
            continue
        try:
            catalogue = polib.pofile(text)
        except (OSError, ValueError) as exc:  # polib raises OSError for syntax errors
            raise DataError(f"{file}: not a valid gettext catalogue ({exc})") from None
        for entry in catalogue:
            origin = f"{file}:{entry.linenum}"
            reason = ("obsolete" if entry.obsolete else "fuzzy" if entry.fuzzy
                      else "plural" if entry.msgid_plural else
                      "untranslated" if not entry.msgstr.strip() else None)
            if not entry.msgid:  # the header entry
                continue
            if reason:
                rejects.add(reason, origin)
                continue
            if max_pairs is not None and taken >= max_pairs:
                return
            taken += 1
            yield Pair(entry.msgid, entry.msgstr, origin)


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
    if not is_in_language(en, "en"):  # e.g. a back-translation the model passed through
        rejects.add("not_english", pair.origin, en)
        return None
    ratio = len(en) / len(zh)
    if not cfg.min_ratio <= ratio <= cfg.max_ratio:
        rejects.add("ratio", pair.origin, f"{ratio:.2f}")
        return None
    return Pair(en, zh, pair.origin)


def source_pairs(source: SourceConfig, cfg: DataConfig, root: Path, rejects: Rejects,
                 tally: Counter) -> Iterator[Pair]:
    """Every clean pair of one source: read, the source's own steps, then :func:`clean`.
    ``tally`` counts the records ``read`` and the extra pairs made by ``split`` sentences."""
    for raw in read_raw(source, root, rejects):
        yield from process_record(raw, source, cfg, rejects, tally)


def process_record(raw: Pair, source: SourceConfig, cfg: DataConfig, rejects: Rejects,
                   tally: Counter) -> Iterator[Pair]:
    """The clean pairs of one record as read: the source's own steps (accelerators and
    placeholders of UI strings, markup, sentence splitting), then :func:`clean`. A pure
    function of its inputs, so `prepare` runs it in worker processes."""
    tally["read"] += 1
    en, zh = raw.en, raw.zh
    if source.ui_strings:
        en, zh = strip_accelerators(en), strip_accelerators(zh)
        if has_placeholder(en) or has_placeholder(zh):
            rejects.add("placeholder", raw.origin, en)
            return
    if source.clean_markup:
        en, zh = clean_markup(en), clean_markup(zh)
    parts = _sentence_pairs(Pair(en, zh, raw.origin), source.split_sentences)
    tally["split"] += len(parts) - 1
    for part in parts:
        pair = clean(part, cfg, rejects)
        if pair is None:
            continue
        if len(pair.en.split()) < source.min_words:
            rejects.add("few_words", pair.origin, pair.en)
            continue
        yield pair


def _sentence_pairs(pair: Pair, split: bool) -> list[Pair]:
    """A paragraph pair as sentence pairs when both sides have the same number of
    sentences (then sentence k translates sentence k); else the paragraph as it is."""
    if not split:
        return [pair]
    en, zh = split_en(pair.en), split_zh(pair.zh)
    if len(en) < 2 or len(en) != len(zh):
        return [pair]
    return [Pair(e, z, f"{pair.origin}#s{k}")
            for k, (e, z) in enumerate(zip(en, zh, strict=True), 1)]


def english_key(en: str) -> str:
    """What "the same English sentence" means for leak checks: case and spacing ignored."""
    return collapse_spaces(en.lower())
