"""Shared helpers of the benchmark: machine facts, load averages, timers and the locked results.json merge."""
from __future__ import annotations

import fcntl
import json
import os
import platform
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

#: Default memory budget for any batch the benchmark allocates itself (bytes); reported with the results.
MEMORY_BUDGET = 1 << 30


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: every figure carries them)."""
    return [round(v, 2) for v in os.getloadavg()]


def machine() -> dict[str, Any]:
    """CPU count, platform and library versions."""
    import numpy
    import scipy
    import torch
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "torch_threads_default": torch.get_num_threads(), "memory_budget_bytes": MEMORY_BUDGET}


def commit() -> dict[str, Any]:
    """The commit the measurement runs on: {"commit": short hash, "dirty": whether tracked files differ from it}
    (bench/publish.py stamps every rendered table with it). {"commit": None} outside a git checkout."""
    import subprocess

    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short=7", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "vaetheory", "pyproject.toml"))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": dirty}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(fn(), wall seconds)."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def best_rate(fn: Callable[[], int], min_seconds: float = 0.5, max_repeats: int = 5) -> float:
    """Items per second of `fn` (which returns how many items it processed): the best of a few repeats, each
    repeated until it has run `min_seconds` (best-of, because other jobs share the machine)."""
    best = 0.0
    for _ in range(max_repeats):
        done, t0 = 0, time.perf_counter()
        while True:
            done += fn()
            dt = time.perf_counter() - t0
            if dt >= min_seconds:
                break
        best = max(best, done / dt)
    return best


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Sections may run as separate processes: serialise the merge on a lock of the output directory itself.
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def merge_section(path: Path, name: str, section: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Replace section `name` of the JSON at `path` (created if missing), update its meta; return the whole."""
    with _locked(path):
        data = json.loads(path.read_text()) if path.exists() else {}
        data.setdefault("sections", {})[name] = section
        data["meta"] = {**data.get("meta", {}), **meta}
        section.setdefault("measured_on", commit())  # each section may be re-measured on its own commit
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1, default=_jsonable) + "\n")
        os.replace(tmp, path)
    return data


def _jsonable(value: Any) -> Any:
    import numpy as np
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
