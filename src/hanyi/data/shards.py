"""Binarised splits: every pair's token ids in flat arrays that training reads from disk.

`prepare` (or the first `train` on an older prepared folder) encodes each split once and
writes, per split and language, under ``PREPARED/shards/``::

    SPLIT.LANG.ids.npy       every sentence's ids, one after the other (uint16 when the
                             vocabulary has fewer than 65,536 pieces, else int32)
    SPLIT.LANG.offsets.npy   int64, N + 1 entries: sentence i is ids[off[i]:off[i + 1]]
    SPLIT.source.npy         uint16: the index of each pair's source name (``SPLIT.src``)
    meta.json                format version, counts, source names, the SentencePiece
                             models' SHA-256 (a changed model makes the shards stale)

Why ``.npy``: it is numpy's own format, `np.load(path, mmap_mode="r")` maps it without
reading it, and any numpy program can open it. fairseq's ``MMapIndexedDataset`` is the
same idea (a flat token file + an index); Arrow (``datasets``) would add a large
dependency for what is two arrays per side.

Training keeps only the length arrays in memory (2 x 4 bytes per pair, plus the source
index): the ids and offsets stay on disk until a batch needs them, so resident memory does
not grow with the corpus. They are read with positioned reads (``os.pread``), not through
a memory map: the pages of a map that a process touches count in its resident memory —
and the kernel maps up to 16 cached neighbours of each ("fault-around") — so random
access over a map of an 8M-pair corpus grew the trainer by ~0.7 GB in 50 updates
(docs/RESULTS.md, "Data preparation at scale"); read pages stay in the page cache, which
the kernel can take back. A split whose ids and offsets together are at most
``IN_MEMORY_BYTES`` (128 MiB: the all-data corpus, 47 MB, is; 2M pairs are not) is read
into memory once instead: a 12k-token batch is built in ~5 ms from memory and ~11 ms with
four positioned reads per pair, time a GPU waits on. Encoding streams the text in chunks,
on every CPU core.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hanyi.data.workers import worker_map
from hanyi.errors import DataError
from hanyi.files import atomic_dir
from hanyi.tokenization import Vocab
from hanyi.tokenization.languages import PREPARED_SPM

log = logging.getLogger(__name__)

FORMAT = 1
SPLITS = ("train", "dev", "test")
CHUNK = 20_000  # sentences encoded per task


def shard_dir(prepared: Path) -> Path:
    return Path(prepared) / "shards"


def _model_hashes(prepared: Path) -> dict[str, str]:
    return {lang: Vocab.from_file(Path(prepared) / name).sha256
            for lang, name in PREPARED_SPM.items()}


def shards_current(prepared: Path, split_punctuation: bool) -> bool:
    """Whether ``PREPARED/shards`` matches the folder's SentencePiece models and settings."""
    meta_path = shard_dir(prepared) / "meta.json"
    if not meta_path.is_file():
        return False
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return (meta.get("format") == FORMAT and meta.get("split_punctuation") == split_punctuation
            and meta.get("models") == _model_hashes(prepared))


# ------------------------------------------------------------------ writing
_VOCABS: dict[str, Vocab] = {}  # language -> Vocab, in this process (a pool worker or not)


def _load_vocabs(prepared: str, split_punctuation: bool) -> None:
    for lang, name in PREPARED_SPM.items():
        _VOCABS[lang] = Vocab.from_file(Path(prepared) / name, split_punctuation and lang == "en")


def _encode_chunk(task: tuple[str, list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """One chunk of sentences -> (their ids end to end as int32, their lengths)."""
    lang, lines = task
    ids = _VOCABS[lang].encode_batch(lines)
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int32,
                       count=int(lengths.sum()))
    return flat, lengths


def _chunks(path: Path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8") as f:
        while chunk := [line.rstrip("\n") for line in itertools.islice(f, CHUNK)]:
            yield chunk


def _write_npy(path: Path, raw: Path, dtype: np.dtype, count: int) -> None:
    """``raw`` (``count`` values of ``dtype``, end to end) -> the ``.npy`` file ``path``."""
    with open(path, "wb") as out, open(raw, "rb") as data:
        np.lib.format.write_array_header_1_0(
            out, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                  "fortran_order": False, "shape": (count,)})
        shutil.copyfileobj(data, out, 1 << 22)
    raw.unlink()


def encode_side(text: Path, lang: str, out: Path, mapper=map) -> int:
    """Encode one side of a split (one sentence per line) into ``out.ids.npy`` and
    ``out.offsets.npy`` with ``mapper`` (``map``, or a process pool's ordered ``map``);
    returns the number of sentences."""
    dtype = np.uint16 if len(_VOCABS[lang]) <= np.iinfo(np.uint16).max + 1 else np.int32
    raw = out.with_name(out.name + ".ids.raw")
    lengths: list[np.ndarray] = []
    with open(raw, "wb") as sink:
        tasks = ((lang, chunk) for chunk in _chunks(text))
        for flat, n in mapper(_encode_chunk, tasks):  # in order, chunk by chunk
            sink.write(flat.astype(dtype).tobytes())
            lengths.append(n)
    length = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(length) + 1, dtype=np.int64)
    np.cumsum(length, out=offsets[1:])
    _write_npy(out.with_name(out.name + ".ids.npy"), raw, dtype, int(offsets[-1]))
    np.save(out.with_name(out.name + ".offsets.npy"), offsets)
    return len(length)


def _source_index(prepared: Path, split: str, count: int) -> tuple[np.ndarray, list[str]]:
    path = Path(prepared) / f"{split}.src"
    if not path.is_file():  # no source names: one anonymous source
        return np.zeros(count, dtype=np.uint16), [""]
    with open(path, encoding="utf-8") as f:
        names_per_line = [line.rstrip("\n") for line in f]
    names = sorted(set(names_per_line))
    lookup = {n: i for i, n in enumerate(names)}
    index = np.fromiter((lookup[n] for n in names_per_line), dtype=np.uint16,
                        count=len(names_per_line))
    if len(index) != count:
        raise DataError(f"{path} has {len(index)} lines but {split}.en has {count}")
    return index, names


def _mapper(prepared: Path, splits: list[str], split_punctuation: bool,
            workers: int | None):
    """Worker processes when the corpus is worth it (a few chunks at least, ~60 bytes a
    sentence), else this process."""
    size = sum((prepared / f"{s}.en").stat().st_size for s in splits)
    return worker_map(size >= 4 * CHUNK * 60, _load_vocabs, (str(prepared), split_punctuation),
                      workers)


def binarize(prepared: Path, split_punctuation: bool, workers: int | None = None) -> dict:
    """Write ``PREPARED/shards`` for every split there (atomically: a half-written folder
    never replaces a good one). Returns the meta data also written to meta.json."""
    prepared = Path(prepared)
    _load_vocabs(str(prepared), split_punctuation)
    meta = {"format": FORMAT, "split_punctuation": split_punctuation,
            "models": {lang: v.sha256 for lang, v in _VOCABS.items()}, "splits": {}}
    splits = [s for s in SPLITS if (prepared / f"{s}.en").is_file()]
    with atomic_dir(shard_dir(prepared)) as tmp, _mapper(prepared, splits, split_punctuation,
                                                         workers) as mapper:
        for split in splits:
            counts = {lang: encode_side(prepared / f"{split}.{lang}", lang,
                                        tmp / f"{split}.{lang}", mapper) for lang in _VOCABS}
            if counts["en"] != counts["zh"]:
                raise DataError(f"{prepared}/{split}.en and {split}.zh differ in line count")
            index, names = _source_index(prepared, split, counts["en"])
            np.save(tmp / f"{split}.source.npy", index)
            meta["splits"][split] = {"pairs": counts["en"], "sources": names}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log.info("binarised %s: %s", shard_dir(prepared),
             {s: m["pairs"] for s, m in meta["splits"].items()})
    return meta


# ------------------------------------------------------------------ reading
IN_MEMORY_BYTES = 128 * 2**20  # a split's ids + offsets up to this size are read into memory


class _MemoryArray:
    """A 1-D ``.npy`` file read into memory whole; the interface of :class:`_DiskArray`."""

    def __init__(self, path: Path):
        self.array = np.load(path)

    def read(self, start: int, count: int) -> np.ndarray:
        """Elements ``start .. start + count - 1``."""
        return self.array[start:start + count]


class _DiskArray:
    """A 1-D ``.npy`` file read slice by slice with ``os.pread``: nothing of it is mapped
    into this process (see the module docstring)."""

    def __init__(self, path: Path):
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, self.dtype = read_header(f)
            self.start = f.tell()
        if len(shape) != 1:
            raise DataError(f"{path}: expected a 1-D array, found shape {shape}")
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)

    def read(self, start: int, count: int) -> np.ndarray:
        """Elements ``start .. start + count - 1``."""
        width = self.dtype.itemsize
        data = os.pread(self.fd, count * width, self.start + start * width)
        if len(data) != count * width:
            raise DataError(f"{self.path}: truncated (run `hanyi prepare` again)")
        return np.frombuffer(data, dtype=self.dtype)


class TokenShards:
    """One binarised split, read for a ``direction``: ids and offsets on disk, lengths in
    memory.

    It has the interface of :class:`hanyi.data.dataset.ParallelData` that batching uses
    (``src_lens``, ``tgt_lens``, ``source_index``, ``source_names``, :meth:`ids`) and
    gives the same ids: source cut to ``max_len`` (the tag ``<s>`` in front of pairs of a
    ``synthetic`` source, counted in), target to ``max_len - 1`` (room for ``<s>``/``</s>``).
    """

    def __init__(self, prepared: Path, split: str, direction: str, max_len: int,
                 bos_id: int, synthetic: frozenset[str] = frozenset(),
                 in_memory_bytes: int = IN_MEMORY_BYTES):
        folder = shard_dir(prepared)
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if split not in meta["splits"]:
            raise DataError(f"{folder} has no '{split}' split — run `hanyi prepare` again")
        src_lang, tgt_lang = direction.split("-")
        self.source_names: list[str] = meta["splits"][split]["sources"]
        self.source_index = np.load(folder / f"{split}.source.npy")
        tagged_names = np.array([n in synthetic for n in self.source_names], dtype=bool)
        self.tagged = tagged_names[self.source_index]  # (N,) bool
        self.max_len, self.bos_id = max_len, bos_id

        def lengths(lang: str) -> np.ndarray:  # one sequential pass over the offsets
            offsets = np.load(folder / f"{split}.{lang}.offsets.npy", mmap_mode="r")
            return np.diff(offsets).astype(np.int32)

        self.src_lens = np.minimum(lengths(src_lang) + self.tagged, max_len).astype(np.int32)
        self.tgt_lens = np.minimum(lengths(tgt_lang), max_len - 1).astype(np.int32)
        paths = [folder / f"{split}.{lang}.{kind}.npy"
                 for lang in (src_lang, tgt_lang) for kind in ("ids", "offsets")]
        small = sum(path.stat().st_size for path in paths) <= in_memory_bytes
        self.in_memory = small
        self.src_ids, self.src_offsets, self.tgt_ids, self.tgt_offsets = (
            (_MemoryArray if small else _DiskArray)(path) for path in paths)

    def __len__(self) -> int:
        return len(self.src_lens)

    def ids(self, indices) -> tuple[list[list[int]], list[list[int]]]:
        """Source and target ids of the pairs ``indices`` (without ``<s>``/``</s>``)."""
        src, tgt = [], []
        for i in indices:
            tag = bool(self.tagged[i])
            start = int(self.src_offsets.read(int(i), 1)[0])
            ids = self.src_ids.read(start, int(self.src_lens[i]) - tag).tolist()
            src.append([self.bos_id] + ids if tag else ids)
            start = int(self.tgt_offsets.read(int(i), 1)[0])
            tgt.append(self.tgt_ids.read(start, int(self.tgt_lens[i])).tolist())
        return src, tgt


def load_shards(prepared: Path, split: str, direction: str, max_len: int, bos_id: int,
                split_punctuation: bool, synthetic: frozenset[str] = frozenset()) -> TokenShards:
    """The split's shards, binarising the folder first if it has none or stale ones (a
    folder prepared before shards existed, or whose SentencePiece models changed)."""
    if not shards_current(prepared, split_punctuation):
        log.info("%s: no current token shards: binarising (once)", prepared)
        binarize(prepared, split_punctuation)
    return TokenShards(prepared, split, direction, max_len, bos_id, synthetic)
