"""Run a sweep on Dask (``dask.distributed``): every unfinished task of the spec is submitted to a cluster, and each
finished task is written to the sweep folder as it arrives (`SweepDir.write_task`).

The cluster is, in order of precedence: a `Client` given by the caller (tests), ``scheduler`` (the address of an
existing cluster started with ``dask scheduler`` / ``dask worker``), or an embedded ``LocalCluster`` of `workers`
single-threaded worker processes (default: one per core this process may use). Workers import vaetheory
themselves; they need not see the sweep folder (tasks return rows and report bytes; the driver writes).

Failures: a run that failed inside a task (a plug-in that raised, timed out or crashed in its child) is an error row
of that task, logged to ``errors.jsonl`` with the variant's name, and the task counts as `failed`. A task the cluster
loses (a worker that died) is logged and retried on the next run, but not forever: the `MAX_LOSSES`-th loss writes
it as error rows. Dask itself never retries a task (``retries=0``).
"""
from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from vaetheory.core.errors import InputError
from vaetheory.sweep.spec import SweepSpec
from vaetheory.sweep.store import SweepDir
from vaetheory.sweep.tasks import error_rows, run_task

#: How many times the cluster may lose a task (over all runs) before it is written as error rows, not retried.
MAX_LOSSES = 2
#: The transports dask.distributed offers (``distributed.comm.registry.backends``).
SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$")


@dataclass
class SweepRun:
    """What one invocation did: tasks in the spec, skipped (already finished), run now, lost by the cluster (no
    result file; retried next time), failed (written with error rows: a run failed or timed out, or the task was
    lost `MAX_LOSSES` times), verdict counts of the rows written now, wall seconds."""

    out: Path
    total: int
    skipped: int
    ran: int = 0
    lost: int = 0
    failed: int = 0
    rows: int = 0
    verdicts: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    cluster: str = ""


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def check_scheduler(address: str) -> str:
    """Refuse, before any import of dask, an address that is not ``[scheme://]host:port`` with a dask transport."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in SCHEMES:
        raise InputError(f"--scheduler {address!r}: unknown transport {scheme!r} (one of {', '.join(SCHEMES)}; "
                         f"e.g. tcp://127.0.0.1:8786)")
    if scheme == "inproc":
        return address
    m = _HOST_PORT.match(rest)
    if m is None or not 0 < int(m.group(2)) < 65536:
        raise InputError(f"--scheduler {address!r}: not an address like tcp://127.0.0.1:8786 (host and port)")
    return address


def _client(stack: ExitStack, *, workers: int | None, scheduler: str | None, client=None):
    from distributed import Client, LocalCluster

    if client is not None:
        return client, "given client"
    if scheduler is not None:
        check_scheduler(scheduler)
        try:
            c = stack.enter_context(Client(scheduler, timeout="20s"))
        except Exception as exc:  # noqa: BLE001  (OSError, TimeoutError, ValueError, ...: the address's fault)
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise InputError(f"--scheduler {scheduler}: cannot connect ({first})") from None
        return c, f"scheduler {scheduler}"
    n = workers or default_workers()
    cluster = stack.enter_context(LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                               dashboard_address=":0", silence_logs=40))
    return stack.enter_context(Client(cluster)), f"LocalCluster({n} workers x 1 thread)"


def _postfix(verdicts: Counter) -> str:
    order = ("optimal", "bad_local_min", "undecided_min", "saddle", "not_converged", "error")
    return " ".join(f"{k}={verdicts[k]}" for k in order if verdicts[k])


def _given_up(spec: SweepSpec, key, losses: int, message: str) -> dict:
    """The result of a task lost `losses` times: one error row per variant × γ mode, so it is not retried again."""
    from vaetheory.report.counterexample import library_versions

    text = (f"lost by the cluster {losses} times (last: {message}); not retried again: delete its result file to "
            f"retry")
    rows = [r for v in spec.variants for r in error_rows(spec, key, v, spec.gamma, library_versions()["vaetheory"], text)]
    return {"task_id": key.task_id, "rows": rows, "reports": {}, "seconds": 0.0,
            "failures": [{"variant": v, "error": text} for v in spec.variants]}


def run_sweep(spec: SweepSpec, spec_text: str, out: str | os.PathLike, *, workers: int | None = None,
              scheduler: str | None = None, client=None, progress: bool = True) -> SweepRun:
    """Run the unfinished tasks of `spec` into folder `out` (created, or resumed when it holds the same spec).

    Tasks are independent futures collected with ``as_completed``; the progress bar (stderr) shows tasks done /
    total and the running verdict counts. A task that raises inside vaetheory is recorded as verdict ``error``
    rows; a task the cluster loses (a killed worker) is logged to ``errors.jsonl`` and retried next run."""
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    if scheduler is not None:
        check_scheduler(scheduler)
    folder = SweepDir(out).open(spec, spec_text)
    tasks = spec.tasks()
    done = folder.done()
    todo = [t for t in tasks if t.task_id not in done]
    run = SweepRun(folder.root, len(tasks), len(tasks) - len(todo))
    t0 = time.perf_counter()
    if not todo:
        run.seconds = time.perf_counter() - t0
        return run
    from distributed import as_completed
    from tqdm import tqdm

    with ExitStack() as stack:
        c, run.cluster = _client(stack, workers=workers, scheduler=scheduler, client=client)
        bar = stack.enter_context(tqdm(total=len(tasks), initial=run.skipped, desc=f"sweep {spec.name}",
                                       unit="task", file=sys.stderr, disable=not progress, dynamic_ncols=True))
        futures = [c.submit(run_task, spec, key, key=f"sweep-{key.task_id}", pure=False, retries=0) for key in todo]
        ids = {f.key: key for f, key in zip(futures, todo)}
        try:
            for future in as_completed(futures):
                key = ids[future.key]
                try:
                    result = future.result()
                except Exception as exc:  # the cluster lost the task (e.g. KilledWorker): retried next run
                    message = f"{type(exc).__name__}: {str(exc)[:300]}"
                    losses = folder.losses(key.task_id) + 1
                    folder.log_error(key.task_id, message, kind="lost")
                    if losses < MAX_LOSSES:
                        run.lost += 1
                        future.release()
                        bar.update(1)
                        continue
                    result = _given_up(spec, key, losses, message)
                folder.write_task(result)
                for failure in result.get("failures", ()):
                    folder.log_error(key.task_id, failure["error"], variant=failure["variant"])
                run.ran += 1
                run.failed += bool(result.get("failures"))
                run.rows += len(result["rows"])
                run.verdicts.update(r["verdict"] for r in result["rows"])
                future.release()
                bar.update(1)
                bar.set_postfix_str(_postfix(run.verdicts), refresh=False)
        finally:
            for f in futures:
                f.cancel()
    run.seconds = time.perf_counter() - t0
    return run
