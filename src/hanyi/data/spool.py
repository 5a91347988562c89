"""The streamed pass of `prepare` over the training sources, on every CPU core.

Training sources may hold tens of millions of pairs, so they are never held in memory.
They are read record by record; chunks of records go to worker processes, which clean
them (corpus.process_record) and *screen* each clean pair against the small held-out
side, known before this pass starts:

* a 64-bit hash of the pair (for exact-duplicate removal) and of its English key (for the
  leak check), instead of the strings themselves;
* which drawn dev/test candidates it is a near-duplicate of (data/heldout.py);
* whether it is, or is near, a sentence of an ``exclude`` source (the general dev sets).

The main process appends the clean pairs to a *spool* file (``en TAB zh TAB origin``, in
read order) and keeps only the per-pair numbers in numpy arrays: 8 + 8 + 2 + 1 bytes a pair.
Results come back in chunk order, so the output is the same whatever the number of workers.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from hanyi.config import DataConfig, SourceConfig
from hanyi.data.corpus import (
    LineChunk,
    Pair,
    Rejects,
    english_key,
    line_chunks,
    process_record,
    read_raw,
)
from hanyi.data.lexicon import resolve
from hanyi.data.neardup import NearDuplicateIndex, Probe
from hanyi.data.sample import Reservoir
from hanyi.data.workers import worker_map

CHUNK = 2_000  # records per task
POOL_BYTES = 32 << 20  # training sources smaller than this are cleaned in-process


def hash64(text: str) -> int:
    """A stable 64-bit hash (Python's ``hash`` differs from process to process)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def pair_hash(en: str, zh: str) -> int:
    return hash64(en + "\t" + zh)


# ------------------------------------------------------------------ the worker side
_SCREEN: dict = {}  # this process's screening state, set by init_screen


def init_screen(cfg: DataConfig, held: list[str], exclude: list[str]) -> None:
    """Build the indices in this process (their keys are Python hashes: per process)."""
    _SCREEN.update(cfg=cfg, held=NearDuplicateIndex(held),
                   held_keys={english_key(en) for en in held},
                   exclude=NearDuplicateIndex(exclude),
                   exclude_keys={english_key(en) for en in exclude})


@dataclass
class Screened:
    """One chunk's clean pairs and what screening found about each."""

    spooled: str  # the clean pairs as spool lines (one string: cheap to send back)
    count: int  # how many
    pair_hash: np.ndarray  # (n,) uint64
    key_hash: np.ndarray  # (n,) uint64, of english_key(en)
    excluded: np.ndarray  # (n,) bool: is, or is near, a sentence of an exclude source
    hits: set[int]  # held-out candidates that a pair here is a near-duplicate of
    leaks: list[str]  # English of the pairs whose English is a candidate's
    rejects: Rejects = field(default_factory=Rejects)
    tally: Counter = field(default_factory=Counter)


def screen_chunk(task: tuple[SourceConfig, LineChunk | list[Pair]]) -> Screened:
    source, raws = task
    s, rejects, tally = _SCREEN, Rejects(), Counter()
    if isinstance(raws, LineChunk):
        raws = raws.pairs(rejects)
    pairs = [p for raw in raws for p in process_record(raw, source, s["cfg"], rejects, tally)]
    hits: set[int] = set()
    leaks, excluded = [], np.zeros(len(pairs), dtype=bool)
    keys = np.zeros(len(pairs), dtype=np.uint64)
    for i, pair in enumerate(pairs):
        key, probe = english_key(pair.en), Probe.of(pair.en)
        keys[i] = hash64(key)
        if key in s["held_keys"]:
            leaks.append(pair.en)
        else:
            hits |= s["held"].matches_probe(probe)
        excluded[i] = key in s["exclude_keys"] or bool(s["exclude"].matches_probe(probe))
    hashes = np.array([pair_hash(p.en, p.zh) for p in pairs], dtype=np.uint64)
    lines = "".join(f"{p.en}\t{p.zh}\t{p.origin.replace(chr(9), ' ')}\n" for p in pairs)
    return Screened(lines, len(pairs), hashes, keys, excluded, hits, leaks, rejects, tally)


# ------------------------------------------------------------------ the main side
@dataclass
class Spool:
    """The training pairs of the streamed pass: text in ``path``, numbers in arrays."""

    path: Path
    source: np.ndarray  # (N,) uint16: index into the config's training sources
    pair_hash: np.ndarray  # (N,) uint64
    key_hash: np.ndarray  # (N,) uint64
    excluded: np.ndarray  # (N,) bool
    hits: set[int]
    leaks: list[str]
    parallel: bool = False  # the pass ran on worker processes (a big corpus)

    def lines(self) -> Iterator[tuple[str, str, str]]:
        """(en, zh, origin) of every spooled pair, in order."""
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                en, zh, origin = line.rstrip("\n").split("\t")
                yield en, zh, origin


def _source_bytes(source: SourceConfig, root: Path) -> int:
    path = resolve(source.path, root)
    names = [path] + [Path(f"{path}{s}{c}") for s in (".en", ".zh") for c in ("", ".xz", ".gz")]
    files = [p for p in names if p.is_file()]
    if path.is_dir():
        files += [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files)


def screening(cfg: DataConfig, held: list[str], exclude: list[str], big: bool,
              workers: int | None = None):
    """An ordered ``map`` for :func:`screen_chunk` (data/workers.py): worker processes for
    a big corpus, else this process."""
    return worker_map(big, init_screen, (cfg, held, exclude), workers)


def _tasks(source: SourceConfig, root: Path, rejects: Rejects) -> Iterator[tuple]:
    """(source, records): undecoded lines (a :class:`LineChunk`, the workers decode them)
    for line-based formats, else pairs as read here."""
    chunks = line_chunks(source, root, CHUNK)
    if chunks is not None:
        yield from ((source, chunk) for chunk in chunks)
        return
    records = read_raw(source, root, rejects)
    while chunk := list(itertools.islice(records, CHUNK)):
        yield source, chunk


def stream_training(cfg: DataConfig, root: Path, sources: list[SourceConfig], held: list[str],
                    exclude: list[str], spool_path: Path, rejects: Rejects,
                    on_source: Callable[[SourceConfig, Counter, Counter], None],
                    sample: Reservoir | None = None) -> Spool:
    """Clean and screen every training source into ``spool_path``; ``on_source`` is told
    each source's tally and reject counts when it is done; ``sample`` is offered every
    spooled pair as its spool line (data/training_split.py keeps those that train)."""
    big = sum(_source_bytes(s, root) for s in sources) >= POOL_BYTES
    parts: dict[str, list] = {"source": [], "pair": [], "key": [], "excluded": []}
    hits: set[int] = set()
    leaks: list[str] = []
    with open(spool_path, "w", encoding="utf-8") as spool, \
            screening(cfg, held, exclude, big) as mapper:
        for number, source in enumerate(sources):
            before, tally = Counter(rejects.counts), Counter()
            progress = tqdm(desc=f"prepare {source.name}", unit=" records", unit_scale=True,
                            disable=None, leave=False)  # shown on a terminal only
            for done in mapper(screen_chunk, _tasks(source, root, rejects)):
                progress.update(done.tally["read"])
                spool.write(done.spooled)
                if sample is not None and sample.size:
                    sample.add_many(done.spooled.split("\n")[:-1])  # the last line ends too
                parts["source"].append(np.full(done.count, number, dtype=np.uint16))
                parts["pair"].append(done.pair_hash)
                parts["key"].append(done.key_hash)
                parts["excluded"].append(done.excluded)
                hits |= done.hits
                leaks += done.leaks
                rejects.merge(done.rejects)
                tally.update(done.tally)
            progress.close()
            on_source(source, tally, rejects.counts - before)

    def joined(name: str, dtype) -> np.ndarray:
        return np.concatenate(parts[name]) if parts[name] else np.zeros(0, dtype=dtype)

    return Spool(spool_path, joined("source", np.uint16), joined("pair", np.uint64),
                 joined("key", np.uint64), joined("excluded", bool), hits, leaks, big)
