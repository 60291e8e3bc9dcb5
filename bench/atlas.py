"""The landscape atlas: rates per cell from the committed rows of ``specs/atlas.toml`` (docs/atlas.md).

    python bench/sweep.py --only atlas --workers 2   # measure: the sweep, rows into bench/sweeps/atlas/results/
    python bench/atlas.py                            # draw docs/atlas/*.png from those rows
    python bench/publish.py                          # render docs/atlas.md's tables from those rows

Per (variant, γ mode, cell), over the 16 problems of the cell and their 8 restarts each:
- **proved bad end points**: end points at a ``bad_local_min`` whose interval proof is ``proved`` / all end points
  (for ae-l1, which has no interval proof, its float-certified bad minima, marked as such);
- **problems with a proved bad minimum**: problems with at least one such end point / problems;
- **recovery**: problems whose lowest-energy certified minimum is optimal / problems.
Each with a Wilson score interval (95 %; `vaetheory.sweep.report.wilson_interval`). Restarts on one problem are not
independent: the interval over end points says how precisely the atlas measured its own problems; the interval over
problems is the one to read as a statement about the problem family.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FOLDER = ROOT / "bench" / "sweeps" / "atlas"
FIGURES = ROOT / "docs" / "atlas"

_QUERY = """
WITH runs AS (
    SELECT rows, r, n, d, variant, gamma_mode, problem_index,
           count(*) FILTER (WHERE verdict <> 'error') AS points,
           count(*) FILTER (WHERE verdict = 'bad_local_min') AS bad,
           count(*) FILTER (WHERE verdict = 'bad_local_min' AND proof_status = 'proved') AS bad_proved,
           count(*) FILTER (WHERE verdict IN ('optimal', 'bad_local_min', 'undecided_min')
                            AND proof_status = 'proved') AS minima_proved,
           count(*) FILTER (WHERE verdict IN ('optimal', 'bad_local_min', 'undecided_min')) AS minima,
           count(*) FILTER (WHERE verdict = 'error') AS errors,
           bool_or(coalesce(lowest, false) AND verdict = 'optimal') AS recovered,
           bool_and(coalesce(proof_status, 'not_applicable') = 'not_applicable'
                    OR verdict NOT IN ('optimal', 'bad_local_min', 'undecided_min')) AS no_proofs
    FROM read_parquet(?)
    GROUP BY ALL
)
SELECT rows, r, n, d, variant, gamma_mode,
       count(*) FILTER (WHERE errors = 0) AS problems, count(*) FILTER (WHERE errors > 0) AS failed,
       sum(points) AS points, sum(bad) AS bad, sum(bad_proved) AS bad_proved,
       sum(minima) AS minima, sum(minima_proved) AS minima_proved,
       count(*) FILTER (WHERE errors = 0 AND bad_proved > 0) AS problems_bad_proved,
       count(*) FILTER (WHERE errors = 0 AND bad > 0) AS problems_bad,
       count(*) FILTER (WHERE errors = 0 AND recovered) AS problems_recovered,
       bool_and(no_proofs) AS float_only
FROM runs GROUP BY ALL ORDER BY variant, gamma_mode, rows, n, r
"""


def cells(folder: Path = FOLDER) -> list[dict]:
    """One dict per (variant, γ mode, cell) with the counts of the module docstring and their Wilson intervals."""
    import duckdb

    from vaetheory.sweep.report import wilson_interval

    files = sorted(str(p) for p in (folder / "results").glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{folder / 'results'}: no rows (run python bench/sweep.py --only atlas)")
    con = duckdb.connect()
    cur = con.execute(_QUERY, [files])
    names = [c[0] for c in cur.description]
    out = []
    for values in cur.fetchall():
        row = dict(zip(names, values))
        bad = row["bad"] if row["float_only"] else row["bad_proved"]
        problems_bad = row["problems_bad"] if row["float_only"] else row["problems_bad_proved"]
        row["evidence"] = "float" if row["float_only"] else "proved"
        row["bad_counted"], row["problems_bad_counted"] = int(bad), int(problems_bad)
        row["bad_ci"] = wilson_interval(int(bad), int(row["points"]))
        row["problems_bad_ci"] = wilson_interval(int(problems_bad), int(row["problems"]))
        row["recovered_ci"] = wilson_interval(int(row["problems_recovered"]), int(row["problems"]))
        row["regime"] = "n ≥ r" if row["n"] >= row["r"] else "n < r"
        out.append(row)
    return out


def measured() -> dict:
    path = FOLDER / "measured.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _series(rows: list[dict], variant: str, gamma: str, kind: str, regime: str) -> list[dict]:
    return sorted((r for r in rows if r["variant"] == variant and r["gamma_mode"] == gamma and r["rows"] == kind
                   and r["regime"] == regime), key=lambda r: r["r"])


def figure(rows: list[dict], quantity: str, ylabel: str, title: str, path: Path) -> Path:
    """One figure for one question: `quantity` against r/d, one panel per (rows of Z*, n regime), one line per
    variant × γ mode, Wilson intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(k, g) for k in ("orthogonal", "gaussian") for g in ("n ≥ r", "n < r")
              if any(r["rows"] == k and r["regime"] == g for r in rows)]
    runs = sorted({(r["variant"], r["gamma_mode"]) for r in rows})
    styles = {"vae-full": ("tab:blue", "o"), "vae-diag": ("tab:red", "s"), "ae-l1": ("tab:green", "^")}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.6), sharey=True, squeeze=False)
    for ax, (kind, regime) in zip(axes[0], panels):
        for k, (variant, gamma) in enumerate(runs):
            s = _series(rows, variant, gamma, kind, regime)
            if not s:
                continue
            x = [r["r"] / r["d"] + (k - len(runs) / 2) * 0.012 for r in s]  # small offsets keep bars apart
            num, den = {"bad": ("bad_counted", "points"), "problems_bad": ("problems_bad_counted", "problems"),
                        "recovered": ("problems_recovered", "problems")}[quantity]
            y = [r[num] / r[den] if r[den] else float("nan") for r in s]
            lo = [yy - r[f"{quantity}_ci"][0] for yy, r in zip(y, s)]
            hi = [r[f"{quantity}_ci"][1] - yy for yy, r in zip(y, s)]
            colour, marker = styles.get(variant, ("black", "x"))
            ev = " (float)" if s[0]["evidence"] == "float" and quantity != "recovered" else ""
            ax.errorbar(x, y, yerr=[lo, hi], color=colour, marker=marker, capsize=3, lw=1.2,
                        ls="-" if gamma.startswith("learned") else "--", label=f"{variant}, γ {gamma}{ev}")
        ax.set_title(f"{kind} rows, {regime}", fontsize=10)
        ax.set_xlabel("r / d (planted support / data dimension)")
        ax.set_xticks([0.25, 0.5, 0.75])
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


FIGURE_SPECS = (
    ("problems_bad", "problems with a proved bad minimum", "Does the problem have a (proved) bad local minimum?",
     "atlas-bad-problems.png"),
    ("bad", "end points at a proved bad minimum", "How often does a start end at a (proved) bad local minimum?",
     "atlas-bad-points.png"),
    ("recovered", "problems recovered (lowest minimum optimal)", "Does the lowest minimum found recover the sparsest "
     "representation?", "atlas-recovery.png"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    rows = cells()
    for quantity, ylabel, title, name in FIGURE_SPECS:
        print(figure(rows, quantity, ylabel, title, FIGURES / name).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
