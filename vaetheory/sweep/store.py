"""The sweep folder: ``DIR/spec.toml`` (a copy of the spec), ``DIR/results/<task id>.parquet`` (one file per finished
task, written atomically: a temporary file renamed into place), ``DIR/reports/`` (counterexample reports) and
``DIR/errors.jsonl`` (tasks the cluster lost, e.g. a worker that died; they are retried on the next run).

A task's result file is its completion mark: a re-run skips every task whose file exists (no duplicate rows) and
runs the rest, so a sweep killed midway completes on re-run. Temporaries a killed driver left behind
(``.<name>.<pid>.<random>.tmp``) are removed when the folder is opened again; readers only ever glob ``*.parquet``.
"""
from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

from vaetheory.core.errors import InputError
from vaetheory.core.files import write_atomic, write_group
from vaetheory.sweep.spec import SweepSpec, spec_from_text
from vaetheory.sweep.tasks import ROW_FIELDS

SPEC_FILE, RESULTS, REPORTS, ERRORS = "spec.toml", "results", "reports", "errors.jsonl"


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
        otherwise: mixing two specs' rows in one folder would make every rate meaningless)."""
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"--out {self.root}: exists and is not a folder")
        copy = self.root / SPEC_FILE
        if copy.exists():
            old = spec_from_text(copy.read_text(encoding="utf-8"), str(copy))
            if old.identity() != spec.identity():
                changed = sorted(k for k, v in spec.identity().items() if old.identity().get(k) != v)
                raise InputError(f"{self.root} holds a different sweep (its {SPEC_FILE} differs in "
                                 f"{', '.join(changed)}); use a new --out folder")
        elif self.root.exists() and any(self.root.iterdir()):
            raise InputError(f"--out {self.root}: folder is not empty and has no {SPEC_FILE} (not a sweep folder)")
        self.results.mkdir(parents=True, exist_ok=True)
        if not copy.exists():
            write_atomic(copy, spec_text)
        for tmp in self.results.glob(".*.tmp"):  # left by a driver killed while writing
            tmp.unlink(missing_ok=True)
        return self

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

    def log_error(self, task_id: str, message: str) -> None:
        """Append one line to errors.jsonl for a task the cluster failed to run (it has no result file)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ERRORS, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"task_id": task_id, "error": message, "time": time.time()}) + "\n")
