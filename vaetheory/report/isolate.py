"""Running a variant in a child process, under a time limit that covers its import as well as its run.

Why a child process: a plug-in is arbitrary code. Its import can block forever (a network call, a lock, a loop),
and Python cannot interrupt an import from the outside: a watchdog thread could give up waiting and the main job
could carry on, but the stuck thread would keep its CPU, its locks and the module half-imported for the rest of
the run, and the process could only end through ``os._exit``, skipping every cleanup. A child process can be
killed: it gets its own session (so a Ctrl-C at the terminal reaches only the parent, which decides), it reports
each finished (variant, problem) run as one JSON line on a private pipe (what the plug-in prints goes to stderr),
and when the time is up the parent kills its whole process group and removes the temporaries it left
(`vaetheory.core.files.remove_temporaries`). Reports the child finished before that stay: each is written as a
complete group.

Process hygiene (Linux): the child is a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so whatever a
plug-in starts stays below it even when it daemonises (``setsid`` and a double fork); it dies with its parent
(``prctl(PR_SET_PDEATHSIG, SIGTERM)`` and a watchdog thread that polls the parent's pid); and whenever it ends (its
task done, SIGTERM, its parent gone) it kills every process below it and removes its temporaries. The parent, on a
time limit or an interrupt, also kills every process below the child (a snapshot taken before the child dies),
besides the child's process group; a SIGTERM or SIGHUP to the parent while a child runs stops the child as Ctrl-C
does. The cost is one more interpreter start (about a second of imports) per isolated variant, so
built-ins run in the main process unless a time limit is asked for.
"""
from __future__ import annotations

import ctypes
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
#: How often the child's watchdog checks that its parent is still there, in seconds.
WATCHDOG_SECONDS = 0.5
_PARENT_ENV = "VAETHEORY_ISOLATE_PARENT"
_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 1, 36


def descendants(root: int) -> list[int]:
    """Pids of every live process below `root` (from /proc; [] where there is none), parents before children."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])  # the command name may hold spaces and ')'
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            out.append(child)
            todo.append(child)
    return out


def _kill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


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
    """Send `first` to the child's process group, wait GRACE_SECONDS, then SIGKILL it and every process below it
    (taken before the child can die: afterwards its orphans would no longer be found below it)."""
    below = descendants(proc.pid)
    for sig, wait in ((first, GRACE_SECONDS), (signal.SIGKILL, None)):
        if sig == signal.SIGKILL:
            below += [pid for pid in descendants(proc.pid) if pid not in below]
            _kill_all(below)
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
    _kill_all(below)  # the child normally killed them on its way out; a plug-in's daemon may have escaped that


def run_isolated(task: dict, timeout: float | None, *, out_dir: str | os.PathLike | None = None,
                 on_message=None) -> Outcome:
    """Run `task` (see `_child_main`) in a child process; stop it after `timeout` seconds (None: no limit).

    on_message: called with each message as it arrives (progress). out_dir: folder whose temporaries a killed child
    may have left, removed afterwards. On KeyboardInterrupt the child gets SIGINT (it finishes the report it is
    writing, then stops), its leftovers are removed and the interrupt is raised again."""
    env = _child_env() | {_PARENT_ENV: str(os.getpid())}
    if out_dir is not None:  # the child removes its own temporaries there when it is stopped
        task = task | {"cleanup_dir": str(out_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "vaetheory.report.isolate"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env, start_new_session=True)
    lines: queue.Queue = queue.Queue()

    def read() -> None:  # a thread, so that the parent can wait on the queue with a deadline
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    outcome = Outcome()
    deadline = None if timeout is None else time.monotonic() + timeout
    restore = _stop_on_termination()
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
        restore()
        if out_dir is not None:
            from vaetheory.core.files import remove_temporaries

            remove_temporaries(out_dir, proc.pid)
    return outcome


#: The signals that end a process by default and that a parent or a terminal sends to stop it (no SIGHUP on Windows).
_TERMINATION = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


class Terminated(SystemExit):
    """SIGTERM or SIGHUP reached a parent waiting for its child: stop like Ctrl-C, exit 128 + signal."""


def _stop_on_termination():
    """In the main thread, make SIGTERM and SIGHUP raise `Terminated` while a child runs (Python's default would end
    the parent at once, skipping the child's stop); return the function that puts the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {}

    def stop(signum, frame):
        raise Terminated(128 + signum)

    for sig in _TERMINATION:
        try:
            if signal.getsignal(sig) is signal.SIG_DFL:
                old[sig] = signal.signal(sig, stop)
        except (ValueError, OSError):
            pass

    def restore() -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return restore


def _target(text: str):
    """The function a "call" task names, ``vaetheory.module:function`` (only vaetheory's own modules: the task comes
    from the parent's code, never from a file, and this keeps it so)."""
    import importlib

    module, _, name = text.partition(":")
    if not (module.startswith("vaetheory.") and name.isidentifier()):
        raise ValueError(f"not a vaetheory function: {text!r}")
    return getattr(importlib.import_module(module), name)


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt


def _end_child(code: int) -> None:
    """Kill every process below this child (it is their subreaper), remove its temporaries, exit at once."""
    _kill_all(descendants(os.getpid()))
    if _CLEANUP_DIR:
        try:
            from vaetheory.core.files import remove_temporaries

            remove_temporaries(_CLEANUP_DIR[0], os.getpid())
        except Exception:  # noqa: BLE001  (best effort on the way out)
            pass
    os._exit(code)


_CLEANUP_DIR: list[str] = []


def _tie_to_parent() -> None:
    """Make this child a subreaper and have it end (`_end_child`) with its parent: PR_SET_PDEATHSIG delivers
    SIGTERM when the parent dies; a watchdog thread covers systems without prctl and a parent that died before the
    prctl call."""
    expected = int(os.environ.get(_PARENT_ENV, "0")) or os.getppid()
    for sig in _TERMINATION:
        signal.signal(sig, lambda signum, frame: _end_child(128 + signum))
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == expected:
            time.sleep(WATCHDOG_SECONDS)
        _end_child(128 + signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="vaetheory-parent-watchdog").start()


def _child_main() -> None:
    """Worker side: read one task (JSON) on stdin, run it, write one JSON message per line on the private pipe.

    Tasks: ``{"kind": "main", ...}`` runs one variant on the main job's problems (`mainjob.variant_records`),
    ``{"kind": "call", "target": "vaetheory.module:function", "spec", "args"}`` sends each message the generator
    ``function(spec, **args)`` yields (a sweep task's plug-in runs, `vaetheory.sweep.tasks.child_runs`),
    ``{"kind": "single", ...}`` one variant on one problem file (`mainjob.check_problem_file`),
    ``{"kind": "replay", ...}`` a report replayed with the variant the user named (`replay.replay_in_child`)."""
    _tie_to_parent()
    task = json.load(sys.stdin)
    if task.get("cleanup_dir"):
        _CLEANUP_DIR.append(task["cleanup_dir"])
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the plug-in prints goes to stderr, not into the messages

    def send(message: dict) -> None:  # "call" results are rows: a plug-in's NaN energy is data, sent as NaN
        channel.write(json.dumps(message, allow_nan=task["kind"] == "call") + "\n")
        channel.flush()

    from vaetheory.report import mainjob

    signal.signal(signal.SIGINT, _interrupted)
    try:
        if task["kind"] == "main":
            for record in mainjob.variant_records(task["spec"], announce=lambda modes: send({"modes": modes}),
                                                  **task["args"]):
                send({"record": record.to_dict()})
        elif task["kind"] == "call":  # a generator of a higher stage, e.g. a sweep task's plug-in runs
            for message in _target(task["target"])(task["spec"], **task["args"]):
                send(message)
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
        sys.stdout.flush()
        _end_child(130)
    sys.stdout.flush()
    sys.stderr.flush()
    _end_child(0)  # nothing a plug-in started outlives its child
