"""Render every results table of README.md and docs/*.md from committed data (bench/*.json, sweep rows).

A table lives between marker comments in a Markdown file:

    <!-- publish:NAME -->
    ...(rendered: never edit by hand)...
    <!-- /publish:NAME -->

and `RENDERERS[NAME]` draws it from the data, with a line saying which data file it came from and the commit the
data was measured on. Numbers are never typed into the docs by hand: measure (the bench drivers write the data
files), then publish.

    python bench/publish.py            # rewrite every marked table from the data
    python bench/publish.py --check    # exit 1 when a table differs from what the data renders (CI runs this)
    python bench/publish.py --list     # the tables and where they are
    python bench/publish.py --measure  # re-measure the README's data (main job, example, sweeps, suite), then render

Re-measuring the tables this renders: `python bench/mainjob.py` (main job), `python bench/sweep.py` (the committed
sweeps); the other data files have their own drivers (bench/README.md).
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
MARKER = re.compile(r"(<!-- publish:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- /publish:(?P=name) -->)", re.S)


class DataError(Exception):
    """A data file is missing or lacks what a table needs (exit 2, one line)."""


def _json(name: str) -> dict:
    path = BENCH / name
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path.relative_to(ROOT)}: {exc}") from None


def stamp(source: str, measured_on: dict | str | None, extra: str = "") -> str:
    """The line under every rendered table: its data file and the commit the data was measured on (a
    `common.commit()` dict, or a ``"<hash>[+dirty]"`` string as bench/learned_gamma.py writes it)."""
    if isinstance(measured_on, str):
        measured_on = {"commit": measured_on.split("+")[0], "dirty": measured_on.endswith("+dirty")}
    if measured_on and measured_on.get("commit"):
        commit = f"measured on commit `{measured_on['commit']}`" + (
            " with uncommitted changes" if measured_on.get("dirty") else "")
    else:
        commit = "the data records no commit (measured before commits were recorded)"
    return (f"<sub>Rendered by `python bench/publish.py` from `{source}`; {commit}"
            + (f"; {extra}" if extra else "") + ".</sub>\n")


def _load_text(load) -> str:
    return "" if not load else f"load ≈ {load[0]:.1f}"


# Renderers ---------------------------------------------------------------------------------------------------------

def mainjob() -> str:
    """The main job's table exactly as `vaetheory check` prints it (`format_table`), from bench/mainjob.json."""
    from vaetheory.report.mainjob import format_table

    data = _json("mainjob.json")
    summary = data["summary"]
    table = format_table(summary["runs"], summary.get("failed_variants") or None)
    extra = f"`{data['command']}`, {data['wall_seconds']:.0f} s wall at {_load_text(data.get('load_before'))}"
    return "```\n" + table + "\n```\n\n" + stamp("bench/mainjob.json", data.get("measured_on"), extra)


def mainjob_problems() -> str:
    """The main job's problems (what the cell names mean), from bench/mainjob.json."""
    data = _json("mainjob.json")
    lines = ["| problem | d | κ | r | n | rows of Z* | seed | generator |", "|---|---|---|---|---|---|---|---|"]
    for p in data["summary"].get("problems", []):
        lines.append(f"| `{p['name']}` | {p['d']} | {p['kappa']} | {p['r']} | {p['n']} | {p['rows']} | {p['seed']} | "
                     f"`{p['generator']}` |")
    return "\n".join(lines) + "\n\n" + stamp("bench/mainjob.json", data.get("measured_on"))


def learned_gamma() -> str:
    """vae-full / vae-diag at fixed and learned γ on 20 problems (bench/learned_gamma.py)."""
    data = _json("learned_gamma.json")
    s = data["summary"]
    totals, proved = s["totals"], s.get("proved", {})
    cols = list(next(iter(totals.values())))
    lines = ["| run | " + " | ".join(cols) + " | proved: optimal | proved: bad |", "|---" * (len(cols) + 3) + "|"]
    for run, counts in totals.items():
        p = proved.get(run, {})
        lines.append(f"| {run} | " + " | ".join(str(counts[c]) for c in cols)
                     + f" | {p.get('optimal', '–')} | {p.get('bad_local_min', '–')} |")
    extra = (f"{s['problems']} problems × {s['restarts']} restarts, {s['seconds']:.0f} s at "
             f"{_load_text(s.get('load_end'))}")
    measured = data.get("measured_on") or s.get("measured_on") or s.get("commit")
    return "\n".join(lines) + "\n\n" + stamp("bench/learned_gamma.json", measured, extra)


def proof_cost() -> str:
    """Proof counts and cost per size, seed and variant (bench/proof_cost.py)."""
    data = _json("proof_cost.json")
    lines = ["| d, κ, r, n | seed | variant | optimal proved | bad proved | not_converged | search s | proofs s | "
             "proofs / search | proved with a 1e-8 box |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        v, p = r["verdicts"], r["proofs"]
        lines.append(f"| {', '.join(map(str, r['sizes']))} | {r['seed']} | {r['variant']} | "
                     f"{p['optimal']['proved']}/{v['optimal']} | {p['bad_local_min']['proved']}/{v['bad_local_min']} | "
                     f"{v.get('not_converged', 0)} | {r['search_s']:.2f} | {r['prove_s']:.2f} | "
                     f"{r['ratio_prove_to_search']:.2f} | {r.get('proved_with_box_1e-8', '–')} |")
    g = data["rows"][0].get("gamma")
    extra = f"{data['rows'][0]['restarts']} restarts, orthogonal rows, γ = {g:g} fixed" if g else ""
    return "\n".join(lines) + "\n\n" + stamp("bench/proof_cost.json", data.get("measured_on"), extra)


def product_path() -> str:
    """The sweep path against plain M-SBL at the published size (bench/product_path.py): per γ mode and r, recovery,
    certified end points and core-seconds per problem, and their ratio."""
    data = _json("product_path.json")
    lines = ["| γ | r | problems | vaetheory recovered | M-SBL recovered | end points certified | vaetheory core-s "
             "/ problem | M-SBL core-s / problem | ratio |", "|---|---|---|---|---|---|---|---|---|"]
    for mode, entry in data["modes"].items():
        label = "learned (M-SBL: its λ update)" if mode == "learned" else mode.replace("fixed:", "fixed ")
        for r, x in entry["per_r"].items():
            lines.append(f"| {label} | {r} | {x['problems']} | {x['vaetheory_recovered']} | {x['msbl_recovered']} | "
                         f"{x['certified_end_points']}/{x['end_points']} | {x['vaetheory_task_cpu_seconds_mean']:.3f} | "
                         f"{x['msbl_cpu_seconds_mean']:.3f} | {x['task_cpu_over_msbl_cpu']:.1f}× |")
    cfg = data["config"]
    extra = (f"`{data['command'].strip()}`; d = {cfg['d']}, κ = {cfg['kappa']}, n = {cfg['n']}, {cfg['rows']} Φ, "
             f"vae-full, {cfg['restarts']} restarts (M-SBL: {cfg['restarts']} starts), one thread, "
             f"{_load_text(data.get('load_before'))}")
    return "\n".join(lines) + "\n\n" + stamp("bench/product_path.json", data.get("measured_on"), extra)


def goldfish() -> str:
    """The published configuration side by side (bench/goldfish.py): recovery k/n [Wilson 95 %] per method, and the
    seconds per problem."""
    data = _json("goldfish.json")
    methods = [m for m in data["methods"] if m.startswith(("vaetheory", "msbl"))]

    def head(m: str) -> str:  # vaetheory-<restarts>[c] (c: γ-continuation starts); msbl-<starts>
        if m.startswith("msbl-"):
            return f"plain M-SBL, {m.split('-')[1]} starts"
        return re.sub(r"vaetheory-(\d+)(c?)", lambda g: f"vaetheory, {g[1]} restart{'s' * (g[1] != '1')}", m)

    heads = [head(m) for m in methods]
    lines = ["| r | published recipe (10 draws) | recipe here | " + " | ".join(heads) + " | s/problem: recipe | "
             + " | ".join(f"s/problem: {h}" for h in heads) + " |", "|---" * (3 + 2 * len(methods) + 1) + "|"]

    def rate(row, method):
        m = row.get(method)
        if not m or not m.get("n"):
            return "—"
        if "recovered" not in m:  # a cache written before counts were kept
            return f"{m['recovery']:.1f} ({m['n']})"
        lo, hi = m["wilson95"]
        return f"{m['recovered']}/{m['n']} [{lo:.2f}, {hi:.2f}]"

    def secs(row, method, fmt):
        m = row.get(method)
        return "—" if not m or m.get("seconds_per_problem") is None else format(m["seconds_per_problem"], fmt)

    commits = set()
    for row in data["rows"]:
        for m in ["recipe"] + methods:
            commits.update((row.get(m) or {}).get("commits", []))
        lines.append(f"| {row['r']} | {row['published']} | {rate(row, 'recipe')} | "
                     + " | ".join(rate(row, m) for m in methods)
                     + f" | {secs(row, 'recipe', '.0f')} | " + " | ".join(secs(row, m, ".2f") for m in methods) + " |")
    measured = {"commit": ", ".join(sorted(commits))} if commits else None
    extra = f"`{data['command']}` (and `--only recipe`, `--only msbl`); recovered/problems [Wilson 95 %]"
    return "\n".join(lines) + "\n\n" + stamp("bench/goldfish.json", measured, extra)


def speed() -> str:
    """The speed rows (bench/speed.py), one line each, with targets."""
    data = _json("speed.json")
    s = data["sections"]
    lines = ["| metric | measured | target | met? |", "|---|---|---|---|"]
    for r in s["eval"]["rows"]:
        lines.append(f"| vae-full energy + gradient per point, d={r['d']} κ={r['kappa']} n={r['n']} (batch "
                     f"{r['batch']}, 1 thread) | {r['closed_form_seconds'] * 1e6:.1f} µs = "
                     f"{r['closed_form_over_floor']:.1f}× its FLOP floor ({r['floor_seconds'] * 1e6:.1f} µs); "
                     f"autograd {r['autograd_seconds'] * 1e6:.0f} µs | ≤ {r['target_over_floor']:g}× floor | "
                     f"{'yes' if r['met'] else 'no'} |")
    cli = {r["variant"]: r for r in s["cli"]["rows"]}
    if "vae-full" in cli:
        base = cli["vae-full"]["wall_seconds"]
        ae = [v for v in ("ae-l1", "ae-log") if v in cli]
        worst = max(cli[v]["wall_seconds"] / base for v in ae) if ae else None
        lines.append("| `check --restarts 32`, d=20 κ=40 r=5 n=20: "
                     + ", ".join(f"{v} {r['wall_seconds']:.1f} s" for v, r in cli.items())
                     + " | " + ", ".join(f"{v} {cli[v]['wall_seconds'] / base:.1f}×" for v in ae)
                     + " of vae-full | < 4× | " + ("—" if worst is None else ("yes" if worst < 4 else "no")) + " |")
    st = s.get("startup")
    if st:
        lines.append(f"| `vaetheory --help` vs `python -c \"import numpy\"` (median of {st['runs']}) | "
                     f"{st['help_over_numpy']:.2f}× | ≤ {st['target']:g}× | {'yes' if st['met'] else 'no'} |")
    rec = s.get("recovery1")
    if rec:
        rows = rec["rows"]
        lines.append(f"| d=100 κ=200 n=1, 1 restart: recovery at r = {', '.join(str(r['r']) for r in rows)} | "
                     + ", ".join(f"{r['recovery']:g}" for r in rows) + " in "
                     + ", ".join(f"{r['seconds_per_problem']:.2f}" for r in rows) + " s per problem | r = 40 ≥ 0.8 | "
                     + ("yes" if any(r["r"] == 40 and r["recovery"] >= 0.8 for r in rows) else "no") + " |")
    mem = s.get("memory", {}).get("check_d100_r64")
    if mem:
        lines.append(f"| peak RSS: search + certificate at d=100 κ=200 n=1, 64 restarts | "
                     f"{mem['maxrss_kb'] / 1024:.0f} MB, {mem['seconds']:.1f} s | written down | — |")
    by_commit: dict[str, list[str]] = {}  # sections re-measured alone keep their own commit; say which is which
    for name, sec in s.items():
        if isinstance(sec, dict):
            c = (sec.get("measured_on") or {}).get("commit") or "an earlier run that recorded no commit"
            by_commit.setdefault(c, []).append(name)
    measured = ({"commit": "; ".join(f"{', '.join(names)}: {c}" for c, names in sorted(by_commit.items()))}
                if by_commit else data.get("meta", {}).get("measured_on"))
    extra = (f"`python bench/speed.py`, file last written "
             f"{data.get('meta', {}).get('when', 'at a date not recorded')}")
    return "\n".join(lines) + "\n\n" + stamp("bench/speed.json", measured, extra)


def _sweep(name: str) -> Callable[[], str]:
    def render() -> str:
        """A committed sweep's rates per cell (bench/sweep.py), from its Parquet rows."""
        from vaetheory.sweep.report import summarise

        folder = BENCH / "sweeps" / name
        rows, n_rows, spec = summarise(folder)
        axes = spec.varying_axes()
        lines = [f"| {' | '.join(axes) or 'cell'} | variant | γ | bad end points [Wilson 95 %] | problems recovered |",
                 "|---" * (len(axes or [0]) + 4) + "|"]
        for r in rows:
            cell = " | ".join(str(r[a]) for a in axes) if axes else "all"
            lines.append(f"| {cell} | {r['variant']} | {r['gamma_mode']} | {r['bad']}/{r['points']} "
                         f"[{r['bad_point_lo']:.2f}, {r['bad_point_hi']:.2f}] | "
                         f"{r['problems_recovered']}/{r['problems']} |")
        meta_path = folder / "measured.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        extra = (f"`vaetheory sweep bench/sweeps/{name}.toml`: {spec.problems} problems per cell, {spec.restarts} "
                 f"restarts, {n_rows} rows" + (f", {meta['wall_seconds']:.0f} s" if meta.get("wall_seconds") else ""))
        return "\n".join(lines) + "\n\n" + stamp(f"bench/sweeps/{name}/results/", meta.get("measured_on"), extra)
    return render


def atlas() -> str:
    """The atlas (specs/atlas.toml): proved bad minima and recovery per cell with Wilson intervals (bench/atlas.py)."""
    sys.path.insert(0, str(BENCH))
    import atlas as atlas_data

    try:
        rows = atlas_data.cells()
    except FileNotFoundError as exc:
        raise DataError(str(exc)) from None

    def rate(k: int, n: int, ci: tuple[float, float]) -> str:
        return f"{k}/{n} [{ci[0]:.2f}, {ci[1]:.2f}]"

    lines = ["| variant | γ | rows of Z* | n | r/d | problems with a proved bad minimum | end points at one | "
             "problems recovered |", "|---" * 8 + "|"]
    for r in rows:
        mark = " (float)" if r["evidence"] == "float" else ""
        lines.append(f"| {r['variant']} | {r['gamma_mode']} | {r['rows']} | {r['n']} ({r['regime']}) | "
                     f"{r['r']}/{r['d']} | {rate(r['problems_bad_counted'], r['problems'], r['problems_bad_ci'])}{mark} | "
                     f"{rate(r['bad_counted'], r['points'], r['bad_ci'])}{mark} | "
                     f"{rate(r['problems_recovered'], r['problems'], r['recovered_ci'])} |")
    meta = atlas_data.measured()
    points = sum(r["points"] for r in rows)
    proved = sum(r["minima_proved"] for r in rows if r["evidence"] == "proved")
    minima = sum(r["minima"] for r in rows if r["evidence"] == "proved")
    failed = sum(r["failed"] for r in rows)
    extra = (f"`vaetheory sweep specs/atlas.toml`: {points:,} end points, {proved:,} of the {minima:,} VAE minima "
             f"proved, {failed} failed runs"
             + (f"; {meta['wall_seconds'] / 60:.0f} min on {meta['workers']} local workers at "
                f"{_load_text(meta.get('load_after'))}" if meta.get("wall_seconds") else ""))
    return "\n".join(lines) + "\n\n" + stamp("bench/sweeps/atlas/results/", meta.get("measured_on"), extra)


def c1_evidence() -> str:
    """C1 (vae-full, fixed small γ, its conditions met): proved instances (complete landscapes) beside searches."""
    land, c1 = _json("landscape.json"), _json("landscape_c1.json")
    proved = {(r["d"], r["kappa"], r["r"], r["n"], r["rows"], r["gamma"], r["seed"]): r  # a problem counts once
              for r in land["fixed_gamma"] + c1["fixed_gamma"] if r["variant"] == "vae-full" and r["complete"]
              and r["gamma"] <= 1e-3 and r["rows"] == "orthogonal" and r["r"] < r["d"] and r["n"] >= r["r"]}
    proved = list(proved.values())
    if any(v != "optimal" for r in proved for _, v in r["minima"]):
        raise DataError("bench/landscape.json: a complete C1 landscape lists a bad minimum: C1 is refuted there")
    sizes = sorted({(r["d"], r["kappa"]) for r in proved})
    sys.path.insert(0, str(BENCH))
    import atlas as atlas_data

    cells = [r for r in atlas_data.cells() if r["variant"] == "vae-full" and r["gamma_mode"] == "fixed"
             and r["rows"] == "orthogonal" and r["r"] < r["d"] and r["n"] >= r["r"]]
    runs, refuting = sum(r["problems"] for r in cells), sum(r["problems_bad_counted"] for r in cells)
    lg = _json("learned_gamma.json")
    lg_runs = [run for p in lg["problems"] for key, run in p["runs"].items() if key.startswith("vae-full fixed")]
    runs += len(lg_runs)
    refuting += sum(1 for run in lg_runs if any(pt["verdict"] == "bad_local_min" for pt in run["points"]))
    limit = [r for r in land["limit"] if r["complete"]]
    text = (f"- **C1 (vae-full, fixed small γ, its conditions met): proved on {len(proved)} instances** — complete "
            f"landscapes, every minimum proved and optimal (`vaetheory landscape`, d × κ in "
            f"{', '.join(f'{d}×{k}' for d, k in sizes)}) — **beside not refuted in {runs} searches** "
            f"({refuting} with a proved bad minimum; the atlas's orthogonal n ≥ r cells and `bench/learned_gamma.py`).\n"
            f"- **Outside C1 (n = 1 < r), vae-full keeps bad γ → 0 limit minima**: complete limit landscapes list "
            + ", ".join(f"{r['bad_limit_minima']:,} of {r['supports']:,} supports (d = {r['d']}, κ = {r['kappa']})"
                        for r in limit) + ", each decided in ball arithmetic.\n")
    return text + "\n" + stamp("bench/landscape_c1.json", {"commit": c1.get("commit"), "dirty": c1.get("dirty")},
                               "with bench/landscape.json (limit rows), bench/sweeps/atlas/ and "
                               "bench/learned_gamma.json")


def quickstart() -> str:
    """The README's example: examples/quickstart.py as it is, and what it printed (bench/mainjob.py)."""
    code = (ROOT / "examples" / "quickstart.py").read_text()
    data = _json("mainjob.json")
    ex = data.get("example")
    if not ex:
        raise DataError("bench/mainjob.json has no 'example' (run: python bench/mainjob.py --only example)")
    extra = f"{ex['wall_seconds']:.0f} s" + (f" at {_load_text(ex.get('load_before'))}" if ex.get("load_before")
                                              else "")
    return (f"```python\n{code}```\n\nprints\n\n```\n{ex['stdout']}```\n\n"
            + stamp("bench/mainjob.json", ex.get("measured_on"), extra))


def commands() -> str:
    """What the README's two commands print and how long they take (bench/mainjob.py)."""
    data = _json("mainjob.json")
    runs = data["summary"]["runs"]
    refuted = len(data["summary"].get("refuted", []))
    lines = [f"- **1.** runs {len(runs)} checks (every built-in variant on {len(data['summary'].get('problems', []))} "
             f"problems, with γ fixed and, for the VAEs, learned) and prints the table under *Results*; exit code "
             f"{data['exit_code']} ({refuted} claims refuted). The check itself took {data['wall_seconds']:.0f} s at "
             f"{_load_text(data.get('load_before'))}; installing takes longer the first time."]
    suite = data.get("suite")
    if suite:
        lines.append("- **2.** runs the unit tests, the Hypothesis properties (profile `ci`) and the example "
                     f"plug-in's tests: `{suite['summary']}` in {suite['wall_seconds']:.0f} s at "
                     f"{_load_text(suite.get('load_before'))} (exit code {suite['exit_code']}).")
    else:
        lines.append("- **2.** runs the unit tests, the Hypothesis properties (profile `ci`) and the example "
                     "plug-in's tests (not timed yet: `python bench/mainjob.py --only suite`).")
    return "\n".join(lines) + "\n\n" + stamp("bench/mainjob.json", data.get("measured_on"))


def larger_instance() -> str:
    """Every built-in on the d = 20, κ = 40 problem, 32 restarts (bench/speed.py --only cli)."""
    from vaetheory.verdict.judge import VERDICTS

    data = _json("speed.json")
    cli = data["sections"]["cli"]
    lines = ["| variant | verdicts | claim | wall s | search s | proofs s | reports s |", "|---" * 7 + "|"]
    for r in cli["rows"]:
        t = r.get("timings", {})
        counts = ", ".join(f"{r['summary'][v]} {v}" for v in VERDICTS if r["summary"].get(v))
        lines.append(f"| {r['variant']} | {counts} | {r.get('claim', '–')} | {r['wall_seconds']:.1f} | "
                     f"{t.get('search', float('nan')):.2f} | {t.get('prove', float('nan')):.2f} | "
                     f"{t.get('reports', float('nan')):.2f} |")
    load = cli["rows"][0].get("load_before") if cli["rows"] else None
    return "\n".join(lines) + "\n\n" + stamp("bench/speed.json", cli.get("measured_on"),
                                             f"`python bench/speed.py --only cli`, {_load_text(load)}")


def landscape() -> str:
    """docs/landscape.md: the fixed-γ grid (complete or not, minima, boxes, seconds) and the limit-mode rows."""
    data = _json("landscape.json")
    lines = ["| variant | d | κ | r | n | rows | γ | complete | minima (bad) | saddles | boxes | s | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["fixed_gamma"]:
        bad = sum(v == "bad_local_min" for _, v in r["minima"])
        left = "yes" if r["complete"] else "no: face sizes " + ", ".join(map(str, r["unresolved_face_sizes"])) + (
            " (and faces not reached)" if r["other_unresolved"] else "")
        lines.append(f"| {r['variant']} | {r['d']} | {r['kappa']} | {r['r']} | {r['n']} | {r['rows']} | "
                     f"{r['gamma']:g} | {left} | {len(r['minima'])} ({bad}) | {r['saddles']} | {r['boxes']:,} | "
                     f"{r['seconds']:.1f} | {r['load1']:.1f} |")
    lines += ["", "| limit mode (vae-full, n = 1) d × κ | supports | decided | bad limit minima | s | supports/s |",
              "|---|---|---|---|---|---|"]
    for r in data["limit"]:
        lines.append(f"| {r['d']} × {r['kappa']} | {r['supports']:,} | {'all' if r['complete'] else 'not all'} | "
                     f"{r['bad_limit_minima']:,} | {r['seconds']:.1f} | {r['supports_per_second']:,.0f} |")
    limits = sorted({r["time_limit"] for r in data["fixed_gamma"]})
    lim = data.get("limit_measured_on")
    fixed_commit = data.get("commit", "?") + (" with uncommitted changes" if data.get("dirty") else "")
    commits = (f"fixed γ {fixed_commit}, limit rows {lim['commit']}" + (" with uncommitted changes" if lim.get("dirty")
                                                                         else "")) if lim else None
    return "\n".join(lines) + "\n\n" + stamp("bench/landscape.json", {"commit": commits} if commits else
                                             {"commit": data.get("commit"), "dirty": data.get("dirty")},
                                              f"`{data.get('command')}`; per-problem time limits "
                                              + ", ".join(f"{t:g} s" for t in limits)
                                              + f", at most {data['fixed_gamma'][0]['max_boxes_per_face']:,} boxes "
                                              "per face; load = 1-minute load average of the shared 2-core machine")


def landscape_referee() -> str:
    """docs/landscape.md: the brute-force referee's runs (bench/landscape_bruteforce*.json), one line per file."""
    lines = ["| run | problems | complete | listed minima (proved) | brute-force minima | missing on a complete "
             "landscape | missing in unresolved faces | listed, never reached |", "|---|---|---|---|---|---|---|---|"]
    commits = set()
    for path in sorted(BENCH.glob("landscape_bruteforce*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["rows"]
        commits.add(data.get("commit", "?") + ("+dirty" if data.get("dirty") else ""))
        sizes = sorted({(r["d"], r["kappa"]) for r in rows})
        lines.append(
            f"| `{path.name}` (d × κ {', '.join(f'{d}×{k}' for d, k in sizes)}) | {len(rows)} | "
            f"{sum(r['complete'] for r in rows)} | {sum(r['landscape_minima'] for r in rows)} "
            f"({sum(r['landscape_proved'] for r in rows)}) | {sum(r['bf_minima'] for r in rows)} | "
            f"{sum(r['missing'] for r in rows if r['complete'])} | {sum(r['missing_in_unresolved'] for r in rows)} | "
            f"{sum(r['extra'] for r in rows)} |")
    return "\n".join(lines) + "\n\n" + stamp("bench/landscape_bruteforce*.json",
                                             {"commit": ", ".join(sorted(commits))},
                                             "`python bench/landscape_bruteforce.py` (the file's `command` gives "
                                             "each run's grid)")


RENDERERS: dict[str, Callable[[], str]] = {
    "mainjob": mainjob,
    "quickstart": quickstart,
    "commands": commands,
    "larger-instance": larger_instance,
    "mainjob-problems": mainjob_problems,
    "learned-gamma": learned_gamma,
    "proof-cost": proof_cost,
    "goldfish": goldfish,
    "product-path": product_path,
    "speed": speed,
    "sweep-learned-gamma-r": _sweep("learned-gamma-r"),
    "atlas": atlas,
    "c1-evidence": c1_evidence,
    "landscape": landscape,
    "landscape-referee": landscape_referee,
}


# Files ---------------------------------------------------------------------------------------------------------------

def documents() -> list[Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def render_text(text: str, cache: dict[str, str], where: str) -> str:
    """`text` with every marked table re-rendered (unknown names are an error)."""
    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in RENDERERS:
            raise DataError(f"{where}: unknown table {name!r} (known: {', '.join(RENDERERS)})")
        if name not in cache:
            cache[name] = RENDERERS[name]()
        return m.group(1) + cache[name] + m.group(4)
    return MARKER.sub(sub, text)


def publish(check: bool = False, files: list[Path] | None = None, out=sys.stdout) -> int:
    """Render every marked table; with `check`, write nothing and return 1 when a file differs."""
    cache: dict[str, str] = {}
    differ = []
    for path in files or documents():
        old = path.read_text(encoding="utf-8")
        new = render_text(old, cache, str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path))
        if new == old:
            continue
        differ.append(path)
        if check:
            rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            out.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"{rel} (file)",
                                                f"{rel} (rendered from the data)", n=1))
        else:
            path.write_text(new, encoding="utf-8")
            print(f"rendered {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", file=out)
    if check and differ:
        print(f"\n{len(differ)} file(s) differ from what the data renders: run `python bench/publish.py`",
              file=out)
    return 1 if check and differ else 0


#: What `--measure` runs, in order: each step a bench driver (`readme`) or also the slower findings drivers (`all`).
#: The suite is timed after the tables are rendered, so that its own tests/test_publish.py sees them consistent.
MEASURE = {
    "readme": [["bench/mainjob.py", "--only", "mainjob"], ["bench/mainjob.py", "--only", "example"],
               ["bench/sweep.py", "--only", "learned-gamma-r"], "publish", ["bench/mainjob.py", "--only", "suite"], "publish"],
    "all": [["bench/learned_gamma.py"], ["bench/proof_cost.py"], ["bench/speed.py", "--only", "cli"]],
}


def measure(which: str) -> int:
    """Run the measuring drivers (`MEASURE`) and render; the exit code of the first failing step."""
    import subprocess

    steps = MEASURE["readme"] if which == "readme" else MEASURE["all"] + MEASURE["readme"]
    for step in steps:
        if step == "publish":
            code = publish()
        else:
            print("+ python " + " ".join(step), file=sys.stderr)
            code = subprocess.run([sys.executable, *step], cwd=ROOT).returncode
        if code:
            return code
    return 0


def _in_project_environment() -> None:
    """The renderers need the suite's own dependencies (vaetheory, torch, DuckDB). Run from an interpreter that lacks
    them (a bare `python3`), re-execute under the README's environment, `.venv/bin/python`, when it exists; else
    stop with one line saying how to get one."""
    import importlib.util
    import os

    missing = [m for m in ("duckdb", "torch") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    venv = ROOT / ".venv" / "bin" / "python"
    if venv.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():  # not already running there
        os.execv(str(venv), [str(venv), str(Path(__file__).resolve()), *sys.argv[1:]])
    print(f"bench/publish.py: error: this Python lacks {', '.join(missing)}; run it inside the README's environment "
          "(python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install -e .)",
          file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        _in_project_environment()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a table differs from the data")
    parser.add_argument("--list", action="store_true", help="list the tables and the files that hold them")
    parser.add_argument("--measure", nargs="?", const="readme", choices=("readme", "all"), default=None,
                        help="re-measure first: readme = the main job, the example, the sweeps and the suite "
                             "(about 10 min); all = also learned γ, proof cost and the d = 20 check (bench drivers)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    try:
        if args.list:
            for path in documents():
                for m in MARKER.finditer(path.read_text(encoding="utf-8")):
                    print(f"{m.group('name'):<24} {path.relative_to(ROOT)}")
            return 0
        if args.measure:
            return measure(args.measure)
        return publish(check=args.check)
    except (DataError, KeyError, TypeError, ValueError) as exc:
        print(f"bench/publish.py: {type(exc).__name__ if not isinstance(exc, DataError) else 'error'}: {exc}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
