"""A hostile plug-in: importing this file never returns (it waits on an event nobody sets).

`vaetheory check --variant tests/data/hanging_variant.py:VARIANT ...` used to hang forever; now the variant runs in
a child process under `--timeout` (default 900 s for plug-ins) and is reported as timed out.
"""
import threading

threading.Event().wait()  # blocks the import for good

VARIANT = None  # never reached
