"""Running a variant in a child process, under a time limit that covers its import as well as its run.

Why a child process: a plug-in is arbitrary code. Its import can block forever (a network call, a lock, a loop),
and Python cannot interrupt an import from the outside: a watchdog thread could give up waiting and the main job
could carry on, but the stuck thread would keep its CPU, its locks and the module half-imported for the rest of
the run, and the process could only end through ``os._exit``, skipping every cleanup. A child process can be
killed: it gets its own session (so a Ctrl-C at the terminal reaches only the parent, which decides), it reports
each finished (variant, problem) run as one JSON line on a private pipe (what the plug-in prints goes to stderr),
and when the time is up the parent kills its whole process group and removes the temporaries it left
(`vaetheory.core.files.remove_temporaries`). Reports the child finished before that stay: each is written as a
complete group. The cost is one more interpreter start (about a second of imports) per isolated variant, so
built-ins run in the main process unless a time limit is asked for.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Time limit for a plug-in variant (import, import check and every run of it) when none is given, in seconds.
DEFAULT_PLUGIN_TIMEOUT = 900.0
#: How long an interrupted or timed-out child gets to stop on its own before it is killed.
GRACE_SECONDS = 5.0


@dataclass
class Outcome:
    """What a child reported: its messages in order, and why it stopped early (None when it finished)."""

    messages: list[dict] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False


def _child_env() -> dict[str, str]:
    """The child sees the parent's import path (PYTHONPATH set from sys.path), so a variant found here is found
    there; its stdout is unbuffered so each message arrives when it is written."""
    env = dict(os.environ)
    paths = [p for p in sys.path if p and Path(p).exists()]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _kill(proc: subprocess.Popen, first: int) -> None:
    """Send `first` to the child's process group, wait GRACE_SECONDS, then SIGKILL it."""
    for sig, wait in ((first, GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def run_isolated(task: dict, timeout: float | None, *, out_dir: str | os.PathLike | None = None,
                 on_message=None) -> Outcome:
    """Run `task` (see `_child_main`) in a child process; stop it after `timeout` seconds (None: no limit).

    on_message: called with each message as it arrives (progress). out_dir: folder whose temporaries a killed child
    may have left, removed afterwards. On KeyboardInterrupt the child gets SIGINT (it finishes the report it is
    writing, then stops), its leftovers are removed and the interrupt is raised again."""
    proc = subprocess.Popen([sys.executable, "-m", "vaetheory.report.isolate"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=_child_env(), start_new_session=True)
    lines: queue.Queue = queue.Queue()

    def read() -> None:  # a thread, so that the parent can wait on the queue with a deadline
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    outcome = Outcome()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        try:
            proc.stdin.write(json.dumps(task).encode())
            proc.stdin.close()
        except BrokenPipeError:  # the child died at once; its exit code is reported below
            pass
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            try:
                raw = lines.get(timeout=remaining)
            except queue.Empty:
                raise TimeoutError from None
            if raw is None:
                break
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            outcome.messages.append(message)
            if on_message is not None:
                on_message(message)
        code = proc.wait()
        if not any("done" in m for m in outcome.messages):
            outcome.error = f"the worker process ended with exit code {code} before finishing"
    except TimeoutError:
        _kill(proc, signal.SIGTERM)
        outcome.timed_out = True
        outcome.error = f"timed out after {timeout:g} s (time limit for importing and running the variant)"
    except BaseException:
        _kill(proc, signal.SIGINT)
        raise
    finally:
        if out_dir is not None:
            from vaetheory.core.files import remove_temporaries

            remove_temporaries(out_dir, proc.pid)
    return outcome


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt


def _child_main() -> None:
    """Worker side: read one task (JSON) on stdin, run it, write one JSON message per line on the private pipe.

    Tasks: ``{"kind": "main", ...}`` runs one variant on the main job's problems (`mainjob.variant_records`),
    ``{"kind": "single", ...}`` one variant on one problem file (`mainjob.check_problem_file`),
    ``{"kind": "replay", ...}`` a report replayed with the variant the user named (`replay.replay_in_child`)."""
    task = json.load(sys.stdin)
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the plug-in prints goes to stderr, not into the messages

    def send(message: dict) -> None:
        channel.write(json.dumps(message, allow_nan=False) + "\n")
        channel.flush()

    from vaetheory.report import mainjob

    signal.signal(signal.SIGINT, _interrupted)
    try:
        if task["kind"] == "main":
            for record in mainjob.variant_records(task["spec"], announce=lambda modes: send({"modes": modes}),
                                                  **task["args"]):
                send({"record": record.to_dict()})
        elif task["kind"] == "replay":  # `vaetheory replay REPORT --variant file.py:OBJ`
            from vaetheory.report.replay import replay_in_child

            send({"result": replay_in_child(task["spec"], **task["args"])})
        else:
            send({"result": mainjob.check_problem_file(task["spec"], **task["args"])})
    except Exception as exc:  # a plug-in may fail in any way: report it in one line
        from vaetheory.core.errors import VaetheoryError
        from vaetheory.variants.registry import one_line

        if isinstance(exc, VaetheoryError):  # already a message for the user (names the variant)
            send({"error": " ".join(str(exc).split()), "user_error": True})
        else:
            send({"error": one_line(exc)})
    send({"done": True})


if __name__ == "__main__":
    try:
        _child_main()
    except KeyboardInterrupt:  # the parent asked it to stop; reports in progress were completed or not started
        sys.exit(130)
