"""Writing result files so that an interrupted or concurrent run never leaves a half-written one.

* Every file is written to a temporary file in the same folder and renamed into place (``os.replace`` is atomic on
  POSIX), so a reader sees either nothing or the whole file.
* A group of files that belong together (a report's JSON, Markdown and PNG) is committed by `write_group`: all
  temporaries are written first, then renamed while Ctrl-C (SIGINT) is held back, so an interrupt arrives either
  before any of them exists or after all of them do.
* Temporary names carry the writer's process id (``.<name>.<pid>.<random>.tmp``), so the process that ran a child
  and killed it (on a timeout) can remove exactly that child's leftovers with `remove_temporaries`.
"""
from __future__ import annotations

import os
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold back SIGINT inside the block and deliver it (as KeyboardInterrupt) when the block ends.

    Only the main thread can install signal handlers; elsewhere this is a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    try:
        old = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if received and old is not signal.SIG_IGN:
            if callable(old):
                old(signal.SIGINT, None)
            else:
                raise KeyboardInterrupt


def _temporary(path: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; result files are meant to be shared
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_group(files: Mapping[Path, bytes], *, keep_existing: bool = False) -> None:
    """Write every ``path -> bytes`` of `files` atomically, as a group (see the module docstring).

    keep_existing: leave a file that already exists as it is (content-addressed names: same name, same content)."""
    todo = {Path(p): data for p, data in files.items() if not (keep_existing and Path(p).exists())}
    temps: dict[Path, Path] = {}
    try:
        for path, data in todo.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            temps[path] = _temporary(path, data)
        with deferred_interrupts():
            for path, tmp in temps.items():
                os.replace(tmp, path)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str, *, keep_existing: bool = False) -> Path:
    """Write one file atomically (str is UTF-8 encoded); return its path."""
    path = Path(path)
    write_group({path: data.encode() if isinstance(data, str) else data}, keep_existing=keep_existing)
    return path


def remove_temporaries(folder: str | os.PathLike, pid: int) -> list[Path]:
    """Delete the temporaries process `pid` left in `folder` (after it was killed); return what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for tmp in folder.glob(f".*.{pid}.*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed
