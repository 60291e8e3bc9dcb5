"""``vaetheory sweep report DIR``: rates per grid cell × variant × γ mode, computed with DuckDB over the Parquet
result files, written as ``DIR/summary.md`` and figures ``DIR/rates*.png``.

Per run (one problem × variant × γ mode) the rows give: how many restarts ended at a certified bad local minimum,
and whether the run recovers the sparse representation (its lowest-energy certified minimum is ``optimal``; see
`vaetheory.sweep.tasks`). Per cell these become: the **share of bad end points** (bad end points / all end points)
and the **recovery rate** (problems recovered / problems), each with a Wilson score interval (95 %), and the rate of
problems with at least one bad end point. The interval of the share counts end points as independent trials;
restarts on one problem are not independent, so it is narrower than an interval over problems would be (it says
how precisely this sweep measured the share on its own problems). Runs that failed (verdict ``error``) are counted
apart and left out of every rate.

Figures (one per combination of the varying grid axes beyond those drawn): with one varying axis, line plots of the
two quantities against it with their intervals as error bars, one panel per variant and quantity, one line per γ
mode; with two or more, heat maps over two axes, one panel per variant × γ mode, each cell labelled with the value
and its interval.
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

from vaetheory.core.errors import InputError
from vaetheory.core.files import write_atomic, write_group
from vaetheory.sweep.spec import GRID_AXES, spec_from_text
from vaetheory.sweep.store import RESULTS, SPEC_FILE

Z95 = 1.959963984540054  # standard normal 97.5 % quantile


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (E. B. Wilson, "Probable inference, the law of succession,
    and statistical inference", JASA 22 (1927) 209-212): the p with |p̂ − p| ≤ z √(p(1−p)/n), i.e.

        (p̂ + z²/2n ± z √(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n).

    (0, 1) for n = 0 (nothing observed)."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return 0.0, 1.0
    n, p = trials, successes / trials
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if successes == 0 else lo), (1.0 if successes == trials else hi)  # exact ends (no rounding)


_QUERY = """
WITH runs AS (
    SELECT {axes}, variant, gamma_mode, problem_index,
           count(*) FILTER (WHERE verdict <> 'error') AS points,
           count(*) FILTER (WHERE verdict = 'optimal') AS optimal,
           count(*) FILTER (WHERE verdict = 'bad_local_min') AS bad,
           count(*) FILTER (WHERE verdict = 'undecided_min') AS undecided,
           count(*) FILTER (WHERE verdict = 'saddle') AS saddle,
           count(*) FILTER (WHERE verdict = 'not_converged') AS not_converged,
           count(*) FILTER (WHERE verdict = 'error') AS errors,
           {per_verdict_runs}
           count(*) FILTER (WHERE verdict = 'bad_local_min' AND "limit") AS bad_limit,
           bool_or(coalesce(lowest, false) AND verdict = 'optimal') AS recovered,
           bool_and(coalesce(k_star_certain, true)) AS certain,
           string_agg(DISTINCT oracle_method, ',') AS methods,
           max(seconds) AS seconds
    FROM read_parquet(?)
    GROUP BY ALL
)
SELECT {axes}, variant, gamma_mode,
       count(*) FILTER (WHERE errors = 0) AS problems,
       count(*) FILTER (WHERE errors > 0) AS failed,
       count(*) FILTER (WHERE errors = 0 AND bad > 0) AS problems_bad,
       count(*) FILTER (WHERE errors = 0 AND recovered) AS problems_recovered,
       count(*) FILTER (WHERE errors = 0 AND NOT certain) AS uncertain,
       coalesce(sum(points), 0) AS points, coalesce(sum(optimal), 0) AS optimal, coalesce(sum(bad), 0) AS bad,
       coalesce(sum(bad_limit), 0) AS bad_limit, coalesce(sum(saddle), 0) AS saddle,
       coalesce(sum(undecided), 0) AS undecided,
       coalesce(sum(not_converged), 0) AS not_converged,
       {per_verdict_cells}
       string_agg(DISTINCT methods, ',') AS methods,
       median(seconds) FILTER (WHERE errors = 0) AS seconds
FROM runs
GROUP BY ALL
ORDER BY ALL
"""


@dataclass
class SweepSummary:
    """One row per cell × variant × γ mode (dicts with the grid axes, counts, rates and Wilson bounds), the paths
    written, and the total number of result rows read."""

    rows: list[dict]
    summary: Path
    figures: list[Path]
    n_rows: int


def summarise(folder: str | os.PathLike) -> tuple[list[dict], int, object]:
    """(per cell × variant × γ mode rows with rates and Wilson intervals, number of result rows, the spec)."""
    import duckdb

    root = Path(folder)
    copy = root / SPEC_FILE
    if not copy.is_file():
        raise InputError(f"{root}: not a sweep folder (no {SPEC_FILE}; run `vaetheory sweep SPEC.toml --out {root}`)")
    spec = spec_from_text(copy.read_text(encoding="utf-8"), str(copy))
    files = sorted(str(p) for p in (root / RESULTS).glob("*.parquet"))
    if not files:
        raise InputError(f"{root}: no result files yet in {RESULTS}/ (run the sweep first)")
    con = duckdb.connect()
    try:
        axes = ", ".join(f'"{a}"' for a in GRID_AXES)
        from vaetheory.verdict.judge import VERDICTS  # every verdict counted, whatever the list holds

        cur = con.execute(_QUERY.format(
            axes=axes,
            per_verdict_runs=" ".join(f"count(*) FILTER (WHERE verdict = '{v}') AS \"v_{v}\"," for v in VERDICTS),
            per_verdict_cells=" ".join(f"coalesce(sum(\"v_{v}\"), 0) AS \"v_{v}\"," for v in VERDICTS)), [files])
        names = [c[0] for c in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        n_rows = con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchone()[0]
    finally:
        con.close()
    for row in rows:
        n = row["problems"]
        for name, k in (("bad_rate", row["problems_bad"]), ("recovery", row["problems_recovered"])):
            row[name] = k / n if n else None
            row[f"{name}_lo"], row[f"{name}_hi"] = wilson_interval(k, n)
        row["bad_point_fraction"] = row["bad"] / row["points"] if row["points"] else None
        row["bad_point_lo"], row["bad_point_hi"] = wilson_interval(int(row["bad"]), int(row["points"]))
    return rows, int(n_rows), spec


def _cell_text(row: dict, axes: list[str]) -> str:
    return ", ".join(f"{a}={row[a]:g}" if isinstance(row[a], float) else f"{a}={row[a]}" for a in axes)


def _rate(k: int, n: int, lo: float, hi: float) -> str:
    return f"{k}/{n} = {k / n:.2f} [{lo:.2f}, {hi:.2f}]" if n else "–"


def _others(row: dict) -> str:
    """The counts of every verdict but ``bad_local_min`` (shown on its own), nonzero ones only."""
    parts = [f"{k[2:]} {row[k]}" for k in row if k.startswith("v_") and k != "v_bad_local_min" and row[k]]
    return ", ".join(parts) or "–"


def _markdown(rows: list[dict], n_rows: int, spec, axes: list[str]) -> str:
    lines = [f"# Sweep `{spec.name}`", "",
             f"{n_rows} result rows; {spec.problems} problems per cell, {spec.restarts} restarts, oracle "
             f"`{spec.oracle}`. Grid: " + "; ".join(f"{a} ∈ {{{', '.join(map(str, spec.grid[a]))}}}"
                                                   for a in GRID_AXES) + ".", "",
             "Per problem × variant × γ mode: **bad** = at least one restart ended at a certified bad local minimum; "
             "**recovered** = the lowest-energy certified minimum is `optimal` (its support is an optimal support "
             "and the refit is exact). Rates are over problems, with Wilson 95 % intervals (Wilson 1927). "
             "**bad end points** = share of all end points (restarts) at a certified bad minimum, with a Wilson "
             "interval that counts end points as independent (restarts on one problem are not, so it is narrower "
             "than an interval over problems; `limit` = of which γ → 0 limit verdicts). **other end points**: "
             "counts of the other verdicts (docs/theory.md §5; `undecided_min` = certified minima whose optimality "
             "an uncertain k* cannot decide). Failed runs (verdict `error`) are left out of every rate.", "",
             f"| {' | '.join(axes) or 'cell'} | variant | γ mode | problems | bad minimum | recovered | "
             "bad end points | other end points | oracle | k* uncertain | failed | median s |",
             "|" + "---|" * (len(axes or [0]) + 11)]
    for r in rows:
        cell = " | ".join(str(r[a]) for a in axes) if axes else "all"
        frac = ("–" if r["bad_point_fraction"] is None else
                _rate(r["bad"], r["points"], r["bad_point_lo"], r["bad_point_hi"])
                + (f" ({r['bad_limit']} limit)" if r["bad_limit"] else ""))
        secs = "–" if r["seconds"] is None else f"{r['seconds']:.2f}"
        lines.append(f"| {cell} | {r['variant']} | {r['gamma_mode']} | {r['problems']} | "
                     f"{_rate(r['problems_bad'], r['problems'], r['bad_rate_lo'], r['bad_rate_hi'])} | "
                     f"{_rate(r['problems_recovered'], r['problems'], r['recovery_lo'], r['recovery_hi'])} | {frac} | "
                     f"{_others(r)} | {r['methods'] or '–'} | "
                     f"{r['uncertain']} | {r['failed']} | {secs} |")
    return "\n".join(lines) + "\n"


def heatmap_axes(spec, x: str | None = None, y: str | None = None) -> tuple[str, str]:
    """The two grid axes of the heat maps: the given ones, else the first two axes with several values (padded
    with single-valued numeric axes)."""
    for a in (x, y):
        if a is not None and a not in GRID_AXES:
            raise InputError(f"heat map axis must be one of {', '.join(GRID_AXES)}; got {a!r}")
    if x is not None and x == y:
        raise InputError(f"heat map axes must differ, got {x!r} twice")
    order = [a for a in spec.varying_axes() if a not in (x, y)] + [a for a in GRID_AXES
                                                                   if a not in spec.varying_axes() and a not in (x, y)]
    x = x or order.pop(0)
    y = y or order.pop(0)
    return x, y


#: The two quantities every figure shows: (row keys of count, total, interval), label, colour map / colour.
QUANTITIES = ((("bad", "points", "bad_point_lo", "bad_point_hi"), "share of bad end points", "Reds", "tab:red"),
              (("problems_recovered", "problems", "recovery_lo", "recovery_hi"), "recovery rate", "Greens",
               "tab:green"))


def _label(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _new_figure(figsize: tuple[float, float]):
    """A bare matplotlib Figure with an Agg canvas (nothing global: no pyplot state to close)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def line_figure(rows: list[dict], x: str, xs: list, variants: list[str], modes: list[str], title: str):
    """One varying axis: the share of bad end points (top) and the recovery rate (bottom) against it, one panel
    per variant, one line per γ mode, Wilson 95 % intervals as error bars. Returns the Figure."""
    import numpy as np

    fig = _new_figure((1.5 + 4.6 * len(variants), 7.6))
    axs = fig.subplots(2, len(variants), squeeze=False)
    index = {(r["variant"], r["gamma_mode"], r[x]): r for r in rows}
    numeric = all(isinstance(v, (int, float)) for v in xs)
    pos = np.asarray(xs, dtype=float) if numeric else np.arange(len(xs), dtype=float)
    markers = "osD^v<>"
    for row_i, ((k, n, lo, hi), label, _, _) in enumerate(QUANTITIES):
        for col, variant in enumerate(variants):
            ax = axs[row_i, col]
            for m_i, mode in enumerate(modes):
                pts = [(p, index[(variant, mode, v)]) for p, v in zip(pos, xs)
                       if (variant, mode, v) in index and index[(variant, mode, v)][n]]
                if not pts:
                    continue
                shift = (m_i - (len(modes) - 1) / 2) * 0.02 * (np.ptp(pos) or 1.0)  # intervals side by side
                px = np.array([p for p, _ in pts]) + shift
                val = np.array([r[k] / r[n] for _, r in pts])
                err = np.array([[v - r[lo] for v, (_, r) in zip(val, pts)], [r[hi] - v for v, (_, r) in zip(val, pts)]])
                ax.errorbar(px, val, yerr=np.maximum(err, 0), marker=markers[m_i % len(markers)], ms=6, capsize=4,
                            lw=1.6, label=f"γ {mode}")
            ax.set_ylim(-0.03, 1.03)
            ax.set_xticks(pos, [_label(v) for v in xs])
            ax.set_xlabel(x, fontsize=11)
            ax.set_ylabel(label, fontsize=11)
            ax.set_title(f"{variant}: {label}", fontsize=12)
            ax.tick_params(labelsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=10, loc="best")
    fig.suptitle(title + "\nbars: Wilson 95 % intervals (the share's over end points, the recovery rate's over "
                 "problems)", fontsize=12)
    return fig


def heatmap_figure(rows: list[dict], x: str, y: str, xs: list, ys: list, panels: list[tuple[str, str]], title: str):
    """Heat maps over two grid axes: the share of bad end points (top) and the recovery rate (bottom), one panel
    per variant × γ mode, each cell labelled with its value and Wilson 95 % interval. Returns the Figure."""
    import numpy as np

    fig = _new_figure((2.0 + 3.6 * len(panels), 2.4 + 1.1 * max(3, len(ys)) * 2))
    axs = fig.subplots(2, len(panels), squeeze=False)
    index = {(r["variant"], r["gamma_mode"], r[x], r[y]): r for r in rows}
    for row_i, ((k, n, lo, hi), label, cmap, _) in enumerate(QUANTITIES):
        for col, (variant, gamma) in enumerate(panels):
            ax = axs[row_i, col]
            grid = np.full((len(ys), len(xs)), np.nan)
            for i, yv in enumerate(ys):
                for j, xv in enumerate(xs):
                    r = index.get((variant, gamma, xv, yv))
                    if r is not None and r[n]:
                        grid[i, j] = r[k] / r[n]
                        ax.text(j, i, f"{r[k]}/{r[n]}\n[{r[lo]:.2f}, {r[hi]:.2f}]", ha="center", va="center",
                                fontsize=9, color="white" if grid[i, j] > 0.6 else "black")
            im = ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, origin="lower", aspect="auto")
            ax.set_xticks(range(len(xs)), [_label(v) for v in xs], fontsize=10)
            ax.set_yticks(range(len(ys)), [_label(v) for v in ys], fontsize=10)
            ax.set_xlabel(x, fontsize=11)
            ax.set_ylabel(y, fontsize=11)
            ax.set_title(f"{variant}, γ {gamma}\n{label}", fontsize=11)
        fig.colorbar(im, ax=list(axs[row_i, :]), shrink=0.8).set_label(label, fontsize=11)
    fig.suptitle(title + "\ncells: count / total [Wilson 95 % interval]", fontsize=12)
    return fig


def write_summary(folder: str | os.PathLike, *, x: str | None = None, y: str | None = None) -> SweepSummary:
    """Write ``summary.md`` and the figures of the sweep in `folder`: with one varying grid axis (and no `y`), line
    plots against it (``rates.png``); else heat maps over x and y, one PNG per combination of the other varying
    axes (``rates-<axis><value>….png``). See the module docstring for what they show."""
    root = Path(folder)
    rows, n_rows, spec = summarise(root)
    axes = spec.varying_axes() or ["d", "kappa", "r", "n"]
    summary = write_atomic(root / "summary.md", _markdown(rows, n_rows, spec, axes))
    variants, modes = list(spec.variants), [g.text for g in spec.gamma]
    files = {}
    varying = spec.varying_axes()
    if len(varying) <= 1 and y is None:
        line_x = x or (varying[0] if varying else heatmap_axes(spec)[0])
        if x is not None and x not in GRID_AXES:
            raise InputError(f"heat map axis must be one of {', '.join(GRID_AXES)}; got {x!r}")
        title = f"sweep {spec.name}: {spec.problems} problems per cell, {spec.restarts} restarts each"
        files[root / "rates.png"] = png(line_figure(rows, line_x, list(spec.grid[line_x]), variants, modes, title))
    else:
        x, y = heatmap_axes(spec, x, y)
        others = [a for a in varying if a not in (x, y)]
        panels = [(v, g) for v in variants for g in modes]
        combos = sorted({tuple(r[a] for a in others) for r in rows})
        for combo in combos:
            sel = [r for r in rows if tuple(r[a] for a in others) == combo]
            suffix = "".join(f"-{a}{v}" for a, v in zip(others, combo))
            fixed = ", ".join(f"{a}={v}" for a, v in zip(others, combo))
            title = (f"sweep {spec.name}: {spec.problems} problems per cell, {spec.restarts} restarts each"
                     + (f"; {fixed}" if fixed else ""))
            files[root / f"rates{suffix}.png"] = png(heatmap_figure(sel, x, y, list(spec.grid[x]),
                                                                    list(spec.grid[y]), panels, title))
    write_group(files)
    return SweepSummary(rows, summary, sorted(files), n_rows)
