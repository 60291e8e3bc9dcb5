"""The sweep folder: ``DIR/spec.toml`` (a copy of the spec), ``DIR/results/<task id>.parquet`` (one file per finished
task, written atomically: a temporary file renamed into place), ``DIR/reports/`` (counterexample reports) and
``DIR/errors.jsonl`` (tasks the cluster lost, e.g. a worker that died; they are retried on the next run).

A task's result file is its completion mark: a re-run skips every task whose file exists (no duplicate rows) and
runs the rest, so a sweep killed midway completes on re-run. Opening a folder validates it:

* every result file must parse as Parquet (its footer is read); one that does not (truncated, overwritten) is moved
  aside to ``<task id>.parquet.corrupt``, logged, and its task is run again;
* temporaries (``.<name>.<pid>.<random>.tmp``) are removed only when the process that wrote them is gone from this
  machine (or they are a day old): another driver's files in flight are left alone;
* the checks and the first run's set-up hold an exclusive lock on ``DIR/.lock`` (``fcntl.flock``), so two drivers
  started together on a fresh folder do not take each other's half-made folder for a foreign one.

Readers only ever glob ``*.parquet``.
"""
from __future__ import annotations

import io
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from vaetheory.core.errors import InputError
from vaetheory.core.files import write_atomic, write_group
from vaetheory.sweep.spec import SweepSpec, spec_from_text
from vaetheory.sweep.tasks import ROW_FIELDS

SPEC_FILE, RESULTS, REPORTS, ERRORS, LOCK = "spec.toml", "results", "reports", "errors.jsonl", ".lock"
#: A temporary older than this (seconds) is removed even when its writer's pid is alive here (another machine's).
STALE_TEMPORARY_SECONDS = 86_400.0


@contextmanager
def _locked(path: Path):
    """An exclusive advisory lock on `path` (created) for the block; no lock where fcntl does not exist."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _writer_gone(tmp: Path) -> bool:
    """Whether the process that wrote temporary `tmp` (pid in its name) no longer runs here, or `tmp` is stale."""
    parts = tmp.name.split(".")
    try:
        pid = int(parts[-3])
        if time.time() - tmp.stat().st_mtime > STALE_TEMPORARY_SECONDS:
            return True
        os.kill(pid, 0)
    except (IndexError, ValueError):
        return True  # not one of ours: a name without a pid
    except ProcessLookupError:
        return True
    except (PermissionError, FileNotFoundError):
        return False
    return False


def unreadable_results(folder: str | os.PathLike) -> dict[Path, str]:
    """The result files in `folder` whose Parquet footer cannot be read, with why (one line each)."""
    import pyarrow.parquet as pq

    bad = {}
    for path in sorted(Path(folder).glob("*.parquet")):
        try:
            pq.read_metadata(path)
        except Exception as exc:  # noqa: BLE001  (pyarrow raises ArrowInvalid, OSError, ... for a bad file)
            bad[path] = (" ".join(str(exc).split()) or type(exc).__name__)[:200]
    return bad


def schema():
    """The pyarrow schema of a result file (column order `ROW_FIELDS`)."""
    import pyarrow as pa

    types = {"spec": pa.string(), "task_id": pa.string(), "d": pa.int32(), "kappa": pa.int32(), "r": pa.int32(),
             "n": pa.int32(), "rows": pa.string(), "noise": pa.float64(), "variant": pa.string(),
             "gamma_mode": pa.string(), "problem_index": pa.int32(), "problem_seed": pa.int64(),
             "restart": pa.int32(), "start_kind": pa.string(), "verdict": pa.string(), "limit": pa.bool_(),
             "lowest": pa.bool_(), "support": pa.list_(pa.int32()), "support_size": pa.int32(),
             "k_star": pa.int32(), "k_star_certain": pa.bool_(), "oracle_method": pa.string(),
             "energy": pa.float64(), "gamma": pa.float64(), "residual": pa.float64(), "proof_status": pa.string(),
             "claim_status": pa.string(), "seconds": pa.float64(), "analysis_seconds": pa.float64(),
             "error": pa.string(), "version": pa.string()}
    assert tuple(types) == ROW_FIELDS
    return pa.schema([(k, t) for k, t in types.items()])


class SweepDir:
    """The output folder of one sweep (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.results = self.root / RESULTS
        self.reports = self.root / REPORTS

    def open(self, spec: SweepSpec, spec_text: str) -> "SweepDir":
        """Create the folder for `spec`, or check that an existing one was made by the same spec (InputError
        otherwise: mixing two specs' rows in one folder would make every rate meaningless); then validate it (see
        the module docstring). A file-system error is an InputError naming the folder."""
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"--out {self.root}: exists and is not a folder")
        copy, lock = self.root / SPEC_FILE, self.root / LOCK
        if self.root.is_dir() and not copy.exists() and not lock.exists() and any(self.root.iterdir()):
            raise InputError(f"--out {self.root}: folder is not empty and has no {SPEC_FILE} (not a sweep folder)")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with _locked(lock):
                self._open_locked(spec, spec_text)
        except OSError as exc:
            raise InputError(f"--out {self.root}: {exc.strerror or exc}"
                             + (f" ({exc.filename})" if exc.filename else "")) from None
        return self

    def _open_locked(self, spec: SweepSpec, spec_text: str) -> None:
        copy = self.root / SPEC_FILE
        if copy.exists():
            old = spec_from_text(copy.read_text(encoding="utf-8"), str(copy))
            if old.identity() != spec.identity():
                changed = sorted(k for k, v in spec.identity().items() if old.identity().get(k) != v)
                raise InputError(f"{self.root} holds a different sweep (its {SPEC_FILE} differs in "
                                 f"{', '.join(changed)}); use a new --out folder")
        elif any(p.name != LOCK for p in self.root.iterdir()):
            raise InputError(f"--out {self.root}: folder is not empty and has no {SPEC_FILE} (not a sweep folder)")
        self.results.mkdir(parents=True, exist_ok=True)
        if not copy.exists():
            write_atomic(copy, spec_text)
        for tmp in list(self.results.glob(".*.tmp")) + list(self.reports.glob(".*.tmp")):
            if _writer_gone(tmp):  # left by a driver killed while writing
                tmp.unlink(missing_ok=True)
        for path, why in unreadable_results(self.results).items():
            os.replace(path, path.with_name(path.name + ".corrupt"))
            self.log_error(path.stem, f"result file unreadable ({why}); moved to {path.name}.corrupt, task redone",
                           kind="corrupt")

    def done(self) -> set[str]:
        """Task ids with a result file."""
        return {p.stem for p in self.results.glob("*.parquet")}

    def result_path(self, task_id: str) -> Path:
        return self.results / f"{task_id}.parquet"

    def write_task(self, out: dict) -> Path:
        """Write a finished task: its reports first (content-addressed names, so a repeat is harmless), then its
        rows as one Parquet file, atomically. The result file exists only once everything is written."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if out["reports"]:
            write_group({self.reports / name: data for name, data in out["reports"].items()}, keep_existing=True)
        table = pa.Table.from_pylist(out["rows"], schema=schema())
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return write_atomic(self.result_path(out["task_id"]), buf.getvalue())

    def log_error(self, task_id: str, message: str, *, kind: str = "failed", variant: str | None = None) -> None:
        """Append one line to errors.jsonl: a run that failed in a task (`variant` names it; the task has error
        rows), a task the cluster lost (kind "lost": no result file, retried) or a corrupt result file."""
        self.root.mkdir(parents=True, exist_ok=True)
        entry = {"task_id": task_id, "kind": kind, "error": message, "time": time.time()}
        if variant is not None:
            entry["variant"] = variant
        with open(self.root / ERRORS, "a", encoding="utf-8") as fh:  # one write per line: O_APPEND keeps it whole
            fh.write(json.dumps(entry) + "\n")

    def losses(self, task_id: str) -> int:
        """How many times errors.jsonl says the cluster lost task `task_id` (entries before kinds were logged are
        losses)."""
        try:
            text = (self.root / ERRORS).read_text(encoding="utf-8")
        except FileNotFoundError:
            return 0
        count = 0
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut by a killed driver
            if isinstance(entry, dict) and entry.get("task_id") == task_id and entry.get("kind", "lost") == "lost":
                count += 1
        return count
