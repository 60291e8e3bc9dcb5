"""The benchmark: ONE command that measures every figure and writes bench/results.json and bench/results.md.

    python bench/run.py            # full run (see bench/README.md for what it takes)
    python bench/run.py --quick    # smoke run on small sizes, under a minute (into a temporary directory)
    python bench/run.py --only enumeration,cli --out /tmp/b   # some sections; others already in the JSON are kept

Sections: enumeration (batched oracle vs per-subset loop vs MIP), recovery (certified search vs the published
recipe), scaling (search time vs d, κ, n, restarts; where the oracle stops being usable), properties (examples
per minute under the ``ci`` profile), cli (``vaetheory check`` per built-in variant), prototypes (a proposed
library optimisation, monkeypatch-free: measured side by side, not applied). Every figure carries the load
averages at the time it was taken (the machine is shared).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` from anywhere: import bench.* and vaetheory from the repo
    sys.path.insert(0, str(ROOT))

from bench.common import load, machine, merge_section  # noqa: E402

SECTIONS = ("enumeration", "recovery", "scaling", "properties", "cli", "prototypes")


def _section(name: str, quick: bool, args: argparse.Namespace) -> dict:
    """Run one section with the sizes of the quick or the full run."""
    if name == "enumeration":
        from bench import enumeration
        return enumeration.run(quick)
    if name == "recovery":
        from bench import recovery
        if quick:
            return recovery.run([3], 2, 20, 40, 300, 1, 1e-6, 30.0)
        return recovery.run([2, 10, 20, 30, 40], 10, 100, 200, 50_000, args.restarts, 1e-6, args.recipe_budget)
    if name == "scaling":
        from bench import scaling
        return scaling.run(quick)
    if name == "properties":
        from bench import properties_rate
        return properties_rate.run(quick)
    if name == "cli":
        from bench import cli_checks
        return cli_checks.run(quick, args.cli_timeout)
    if name == "prototypes":
        from bench import prototypes
        return prototypes.run(quick)
    raise ValueError(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run that finishes in under a minute")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})")
    ap.add_argument("--out", type=Path, default=None,
                    help="directory for results.json and results.md (default: bench/; with --quick a new temporary "
                         "directory, so a smoke run never overwrites the recorded results)")
    ap.add_argument("--render", action="store_true", help="only rewrite results.md from the existing results.json")
    ap.add_argument("--restarts", type=int, default=1, help="restarts of the certified search in 'recovery'")
    ap.add_argument("--cli-timeout", type=float, default=300.0,
                    help="seconds after which one `vaetheory check` command in 'cli' is killed (reported)")
    ap.add_argument("--recipe-budget", type=float, default=900.0,
                    help="seconds the recipe may train in 'recovery'; beyond it fewer trials run and the full "
                         "protocol's time is extrapolated (labelled)")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in names if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {', '.join(bad)}; choose from {', '.join(SECTIONS)}")
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="vaetheory-bench-quick-")) if args.quick else ROOT / "bench"
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.json"
    from bench.report import write_markdown
    if args.render:
        import json
        if not path.is_file():
            ap.error(f"--render needs an existing {path}")
        write_markdown(json.loads(path.read_text()), args.out / "results.md")
        return 0
    for name in names:
        t0 = time.perf_counter()
        print(f"[bench] {name} ... load {load()}", flush=True)
        section = _section(name, args.quick, args)
        section["seconds"] = time.perf_counter() - t0
        section["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        section["load_end"] = load()
        section["quick"] = args.quick
        data = merge_section(path, name, section, {"machine": machine(), "command": " ".join(sys.argv)})
        write_markdown(data, args.out / "results.md")
        print(f"[bench] {name} done in {section['seconds']:.1f} s", flush=True)
    print(f"[bench] wrote {path} and {args.out / 'results.md'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
