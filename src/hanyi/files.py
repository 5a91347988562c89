"""Atomic writes: the one home for "never leave a half-written file or directory".

Everything is written to a temporary name in the *same* directory first and renamed into
place at the end (``os.replace`` is atomic within one filesystem), so a crash, Ctrl-C or
SIGTERM at any moment leaves either the old content or the new one, never a mix. A
leaf module: it imports nothing from hanyi.

    atomic_write_text(path, text)             small files (LATEST, summary.json, meta.json)
    with atomic_open(path) as out: ...        streamed text (translations of a file)
    with atomic_dir(path) as tmp: ...         a whole directory (checkpoints, exports)
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

TMP_MARK = ".tmp-"  # every temporary name contains it (see stale_temporaries)


def _temp_file(path: Path) -> Path:
    """A new, empty hidden file beside ``path``, created with the permissions ``path`` has
    (or, for a new file, the usual ones under the umask — not mkstemp's private 0600)."""
    while True:
        tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            tmp.open("x").close()
        except FileExistsError:
            continue
        if path.exists():
            shutil.copymode(path, tmp)
        return tmp


@contextmanager
def _named_for(path: Path) -> Iterator[None]:
    """An OSError about our temporary file is reported as one about ``path``: the user
    named ``path`` and has never heard of ``.name.tmp-1234-abcd``."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None and TMP_MARK in str(exc.filename):
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
        raise


@contextmanager
def atomic_open(path: str | Path, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Open a text file for writing that appears at ``path`` only when the block ends
    without an exception; otherwise the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    with _named_for(path):
        tmp = _temp_file(path)
    try:
        with _named_for(path), open(tmp, "w", encoding=encoding) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        with _named_for(path):
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path) as out:
        out.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    with _named_for(path):
        tmp = _temp_file(path)
    try:
        with _named_for(path):
            tmp.write_bytes(data)
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished ``tmp`` directory to ``final``, replacing any older one.

    POSIX has no atomic swap of two directories: for an instant only ``final.old``
    exists. A crash right then leaves it behind, and :func:`recover_dir` puts it back.
    """
    old = final.with_name(final.name + ".old")
    if final.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
        if old.exists():  # left by a crash between the two renames; final is newer
            shutil.rmtree(old)


def recover_dir(path: Path) -> Path:
    """``path``, restored from ``path.old`` if a crash in :func:`replace_dir` left only that."""
    old = path.with_name(path.name + ".old")
    if not path.exists() and old.is_dir():
        os.replace(old, path)
    return path


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """A temporary directory beside ``path`` to fill; it replaces ``path`` when the block
    ends without an exception, and is removed otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=path.name + TMP_MARK, dir=path.parent))
    tmp.chmod(0o777 & ~_UMASK)  # mkdtemp makes it private (0700); a model dir is not
    try:
        yield tmp
        replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _read_umask() -> int:
    """The process umask. Reading it means setting it, so this runs once, at import, not
    while other threads may be creating files."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def stale_temporaries(folder: Path) -> list[Path]:
    """Temporary files and directories in ``folder`` that an interrupted write left behind
    (a killed process never reaches the ``finally`` that removes them)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if TMP_MARK in p.name)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete :func:`stale_temporaries` of ``folder`` (call it only where no other process
    is writing, e.g. when a training run starts); returns what was removed."""
    removed = stale_temporaries(folder)
    for p in removed:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return removed
