"""The published recovery table side by side (issue 11, item 7): the recipe as re-run here and vaetheory.

Problems: ``make_problem(d=100, kappa=200, r, n=1, rows="gaussian", seed=1000·r + t)`` for t = 0 … problems−1
(Gaussian unit-norm Φ, r standard-normal nonzeros, x = Φ z*; one Φ per problem, where the published script draws
one Φ for all its trials — the same distribution).

Methods and what "recovered" means:
- ``recipe``: ``bench.baselines.published_recipe`` with the published settings (float32, Adam lr 1e-2 cut to 1e-4 at
  the first negative loss, 50,000 steps, one sample per step); recovered = its read-out {j : |w_j (W x)_j| > 1e-3}
  equals the planted support. All uncached problems of the run train as ONE batch (leading batch dimension).
- ``vaetheory-R`` (R restarts): ``run_check(problem, vae-full, restarts=R, gamma=1e-6, adversarial_fraction=0)`` with
  an analysis whose oracle answer is the planted support (``method="planted"``; at κ = 200 the exhaustive oracle is
  out of reach, and the planted support is the unique sparsest one since r < (spark(Φ) − 1 + 1)/2 = 50.5 for a
  Gaussian Φ — so this holds for r ≤ 50 only). Recovered = the lowest-energy end point is certified with the planted
  support (verdict ``optimal``). No start uses the answer (adversarial starts off).

Results are cached per (method, r, seed) in ``bench/goldfish/<method>_r<r>_s<seed>.json`` (re-running skips them);
the table goes to ``bench/goldfish.json`` and ``bench/goldfish.md``.

Examples:
    python bench/goldfish.py                                   # r = 2,10,20,30,40, 10 problems, both methods
    python bench/goldfish.py --only recipe --problems 5        # the long part, resumable per problem
    python bench/goldfish.py --only vaetheory --restarts 1,8
    python bench/goldfish.py --render                          # rewrite the table from the cache only
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import load, machine  # noqa: E402

PUBLISHED = {2: 0.8, 10: 0.9, 20: 0.8, 30: 0.8, 40: 0.6, 50: 0.0, 60: 0.0}
LASSO_PUBLISHED = {2: 1.0, 10: 1.0, 20: 0.5, 30: 0.0, 40: 0.0, 50: 0.0, 60: 0.0}
D, KAPPA = 100, 200
VT_GAMMA = 1e-6


def seed_of(r: int, t: int) -> int:
    return 1000 * r + t


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def cache_path(cache: Path, method: str, r: int, seed: int) -> Path:
    return cache / f"{method}_r{r}_s{seed}.json"


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    tmp.replace(path)  # atomic: a killed run leaves no half-written result


def _problem(r: int, seed: int, d: int, kappa: int):
    from vaetheory.problems.generate import make_problem
    return make_problem(d, kappa, r, 1, "gaussian", seed=seed)


def run_recipe(rs: list[int], problems: int, cache: Path, steps: int, d: int, kappa: int, log_every: int) -> None:
    """Train every uncached (r, seed) as one batch and cache one JSON per problem."""
    from bench.baselines.published_recipe import RecipeConfig, train_published_recipe

    todo = [(r, seed_of(r, t)) for r in rs for t in range(problems)
            if not cache_path(cache, "recipe", r, seed_of(r, t)).exists()]
    if not todo:
        print("recipe: all cached", flush=True)
        return
    probs = [_problem(r, s, d, kappa) for r, s in todo]
    cfg = RecipeConfig(steps=steps)
    print(f"recipe: training {len(todo)} problems as one batch ({steps} steps, float32, 1 thread), load {load()}",
          flush=True)
    load0, commit = load(), _git_commit()
    tag = "_".join(f"{r}-{s}" for r, s in todo)
    ckpt = cache / f"recipe_checkpoint_{zlib.crc32(tag.encode()):08x}.pt"  # resumes a killed batch mid-way
    res = train_published_recipe(np.stack([p.Phi for p in probs]), np.stack([p.X[:, 0] for p in probs]),
                                 [s for _, s in todo], cfg, num_threads=1, log_every=log_every,
                                 progress=f"recipe B={len(todo)}", checkpoint=ckpt)
    load1 = load()
    for (r, s), p, out in zip(todo, probs, res):
        planted = sorted(int(j) for j in p.support)
        _write(cache_path(cache, "recipe", r, s), {
            "method": "recipe", "r": r, "seed": s, "d": d, "kappa": kappa, "planted": planted,
            "recovered": out["support"] == planted, "recovered_w_rule": out["support_w"] == planted,
            "support_size": len(out["support"]), "support": out["support"], "support_w_size": len(out["support_w"]),
            "status": out["status"], "stopped_step": out["stopped_step"], "cut_step": out["cut_step"],
            "gamma": out["gamma"], "final_loss": out["final_loss"], "exact_inverses": out["exact_inverses"],
            "u": out["u"], "seconds": out["seconds"], "batch": out["batch"], "steps": out["steps"],
            "double_newton_schulz": out["double_newton_schulz"], "nan_steps": out["nan_steps"],
            "config": cfg.to_dict(), "load_start": load0, "load_end": load1, "commit": commit,
        })
    print(f"recipe: cached {len(todo)} problems, {res[0]['seconds']:.1f} s per problem", flush=True)


def _method(restarts: int, continuation: bool) -> str:
    return f"vaetheory-{restarts}{'c' if continuation else ''}"


def _label(method: str) -> str:
    """"vaetheory-8c" → "8 restart(s), continuation"."""
    r = method.split("-")[1]
    return f"{r.rstrip('c')} restart(s)" + (", continuation" if r.endswith("c") else "")


def uncached(cache: Path, method: str, rs: list[int], problems: int, d: int, kappa: int):
    """(r, seed, t, cache path, problem) for every problem of the protocol that `method` has not cached yet."""
    for r in rs:
        for t in range(problems):
            s = seed_of(r, t)
            path = cache_path(cache, method, r, s)
            if not path.exists():
                yield r, s, t, path, _problem(r, s, d, kappa)


def run_vaetheory(rs: list[int], problems: int, cache: Path, restarts: int, d: int, kappa: int,
                  continuation: bool = False) -> None:
    """run_check with the planted support as the oracle answer, one problem at a time, cached per problem.
    continuation: every random start is a γ-continuation start (`run_check(continuation=True)`)."""
    from bench.recovery import planted_analysis
    from vaetheory.variants.registry import get_variant
    from vaetheory.verdict.check import run_check

    method = _method(restarts, continuation)
    variant = get_variant("vae-full")
    for r, s, t, path, p in uncached(cache, method, rs, problems, d, kappa):
        analysis, _ = planted_analysis(p)
        l0, commit = load(), _git_commit()
        t0 = time.perf_counter()
        res = run_check(p, variant, restarts=restarts, seed=t, gamma=VT_GAMMA, analysis=analysis,
                        adversarial_fraction=0.0, continuation=continuation)
        seconds = time.perf_counter() - t0
        energies = [pt.energy for pt in res.points]
        best = res.points[int(np.argmin(energies))]
        planted = sorted(int(j) for j in p.support)
        _write(path, {
            "method": method, "r": r, "seed": s, "d": d, "kappa": kappa, "planted": planted,
            "restarts": restarts, "gamma": VT_GAMMA, "continuation": continuation,
            "recovered": best.verdict == "optimal" and sorted(best.support) == planted,
            "best_verdict": best.verdict, "support_size": len(best.support), "support": sorted(best.support),
            "verdicts": [pt.verdict for pt in res.points], "energies": energies,
            "any_optimal": any(pt.verdict == "optimal" for pt in res.points), "seconds": seconds,
            "load_start": l0, "load_end": load(), "commit": commit,
        })
        print(f"{method}: r={r} seed={s}: {best.verdict} |S|={len(best.support)} in {seconds:.1f} s "
              f"(load {load()[0]:.1f})", flush=True)


def run_msbl(rs: list[int], problems: int, cache: Path, restarts: int, d: int, kappa: int) -> None:
    """Plain M-SBL (bench/baselines/msbl.py: the fixed-point update, γ = 1e-6 fixed, `restarts` random starts) on the
    same problems; recovered = the lowest-energy end point's support is the planted one. Cached per problem."""
    from bench.baselines.msbl import msbl_multistart

    method = f"msbl-{restarts}"
    for r, s, t, path, p in uncached(cache, method, rs, problems, d, kappa):
        l0, commit = load(), _git_commit()
        t0 = time.perf_counter()
        res = msbl_multistart(p.Phi, p.X, starts=restarts, seed=t, lam=VT_GAMMA)
        seconds = time.perf_counter() - t0
        planted = sorted(int(j) for j in p.support)
        _write(path, {"method": method, "r": r, "seed": s, "d": d, "kappa": kappa, "planted": planted,
                      "restarts": restarts, "gamma": VT_GAMMA, "recovered": sorted(res["support"]) == planted,
                      "support_size": len(res["support"]), "support": sorted(res["support"]),
                      "energy": res["energy"], "seconds": seconds, "load_start": l0, "load_end": load(),
                      "commit": commit})
        print(f"{method}: r={r} seed={s}: |S|={len(res['support'])} recovered "
              f"{sorted(res['support']) == planted} in {seconds:.2f} s", flush=True)


def collect(cache: Path, rs: list[int], problems: int, methods: list[str]) -> dict[str, Any]:
    """The table rows from the cache (only what is there; counts say how many problems each cell has)."""
    rows = []
    for r in rs:
        row: dict[str, Any] = {"r": r, "published": PUBLISHED.get(r), "lasso_published": LASSO_PUBLISHED.get(r)}
        for m in methods:
            recs = [json.loads(p.read_text()) for t in range(problems)
                    if (p := cache_path(cache, m, r, seed_of(r, t))).exists()]
            cell: dict[str, Any] = {"n": len(recs)}
            if recs:
                cell["recovery"] = float(np.mean([x["recovered"] for x in recs]))
                cell["recovered"] = int(sum(bool(x["recovered"]) for x in recs))
                cell["wilson95"] = list(_wilson(cell["recovered"], len(recs)))
                cell["seconds_per_problem"] = float(np.mean([x["seconds"] for x in recs]))
                cell["support_sizes"] = [x["support_size"] for x in recs]
                cell["commits"] = sorted({x.get("commit", "?") for x in recs})
                cell["load"] = float(np.mean([x["load_start"][0] for x in recs]))
                if m == "recipe":
                    cell["recovery_w_rule"] = float(np.mean([x["recovered_w_rule"] for x in recs]))
                    cell["status"] = {s: sum(x["status"] == s for x in recs) for s in ("ok", "exploded")}
                    cell["nan_steps"] = [x.get("nan_steps", 0) for x in recs]
                    cell["median_gamma"] = float(np.nanmedian([x["gamma"] for x in recs]))
                elif m.startswith("vaetheory-"):
                    cell["best_verdicts"] = [x["best_verdict"] for x in recs]
            row[m] = cell
        rows.append(row)
    return {"rows": rows, "methods": methods, "problems": problems, "d": D, "kappa": KAPPA,
            "machine": machine(), "load": load()}


def _wilson(k: int, n: int) -> tuple[float, float]:
    from vaetheory.sweep.report import wilson_interval

    return wilson_interval(k, n)


def _fmt(cell: dict[str, Any] | None, key: str, problems: int) -> str:
    if not cell or not cell.get("n"):
        return "—"
    v = cell[key]
    s = f"{v:.2f}" if key == "recovery" or key == "recovery_w_rule" else f"{v:.1f}"
    return s if cell["n"] == problems else f"{s} ({cell['n']}/{problems})"


def render(data: dict[str, Any]) -> str:
    """Markdown table: r | published | recipe here | vaetheory restarts … | seconds per problem."""
    vt = [m for m in data["methods"] if m.startswith("vaetheory-")]
    P = data["problems"]
    head = ["r", "published recipe", "recipe re-run here", *[f"vaetheory, {_label(m)}" for m in vt],
            "recipe s/problem", *[f"vaetheory {_label(m)}: s/problem" for m in vt]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in data["rows"]:
        rc = row.get("recipe")
        cells = [str(row["r"]), f"{row['published']:.1f}" if row["published"] is not None else "—",
                 _fmt(rc, "recovery", P), *[_fmt(row.get(m), "recovery", P) for m in vt],
                 _fmt(rc, "seconds_per_problem", P), *[_fmt(row.get(m), "seconds_per_problem", P) for m in vt]]
        lines.append("| " + " | ".join(cells) + " |")
    notes = ["", f"d = {data['d']}, κ = {data['kappa']}, n = 1, Gaussian Φ, {P} problems per r "
             "(seeds 1000·r + t); a cell marked (k/N) has k of N problems done.",
             "Recipe: bench/baselines/published_recipe.py (published settings); recovered = {j : |u_j| > 1e-3} equals "
             "the planted support. vaetheory: run_check(vae-full, γ = 1e-6 fixed) with the planted support as the "
             "oracle answer; recovered = lowest-energy end point certified `optimal`."]
    extra = []
    for row in data["rows"]:
        rc = row.get("recipe") or {}
        if rc.get("n"):
            extra.append(f"r={row['r']}: recipe |w|>1e-3 rule {rc['recovery_w_rule']:.2f}, status {rc['status']}, "
                         f"median γ {rc['median_gamma']:.1e}, |support| {rc['support_sizes']}")
    if extra:
        notes += ["", "Recipe details per r:", *[f"- {e}" for e in extra]]
    return "\n".join(lines + notes) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__[__doc__.index("Examples:"):],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--r", default="2,10,20,30,40", help="comma-separated sparsity levels")
    ap.add_argument("--problems", type=int, default=10, help="problems per r (seeds 1000·r + 0 … problems−1)")
    ap.add_argument("--steps", type=int, default=50_000, help="recipe Adam steps (published: 50,000)")
    ap.add_argument("--restarts", default="1,8", help="vaetheory restarts, comma-separated")
    ap.add_argument("--only", choices=["recipe", "vaetheory", "msbl"], help="run one method only")
    ap.add_argument("--msbl-starts", type=int, default=8, help="plain M-SBL random starts (default 8)")
    ap.add_argument("--render", action="store_true", help="only rewrite the table from the cache")
    ap.add_argument("--out", default=str(ROOT / "bench"), help="folder for goldfish.json/.md and goldfish/ cache")
    ap.add_argument("--d", type=int, default=D)
    ap.add_argument("--kappa", type=int, default=KAPPA)
    ap.add_argument("--log-every", type=int, default=1000, help="recipe status line every N steps")
    ap.add_argument("--continuation", action="store_true",
                    help="vaetheory with gamma-continuation random starts (run_check(continuation=True)); its "
                         "columns are named vaetheory-Rc")
    a = ap.parse_args(argv)
    try:
        rs = [int(v) for v in a.r.split(",")]
        restarts = [int(v) for v in a.restarts.split(",")]
    except ValueError:
        print(f"--r and --restarts take comma-separated integers, got {a.r!r} / {a.restarts!r}", file=sys.stderr)
        return 2
    if a.problems < 1 or a.steps < 1 or any(v < 1 for v in rs + restarts):
        print("--problems, --steps, --r and --restarts must be positive", file=sys.stderr)
        return 2
    out = Path(a.out)
    cache = out / "goldfish"
    cache.mkdir(parents=True, exist_ok=True)
    if a.steps != 50_000 or (a.d, a.kappa) != (D, KAPPA):  # keep non-protocol runs out of the protocol's cache
        cache = cache / f"d{a.d}_k{a.kappa}_steps{a.steps}"
        cache.mkdir(parents=True, exist_ok=True)
    if not a.render:
        if a.only in (None, "recipe"):
            run_recipe(rs, a.problems, cache, a.steps, a.d, a.kappa, a.log_every)
        if a.only in (None, "vaetheory"):
            for R in restarts:
                run_vaetheory(rs, a.problems, cache, R, a.d, a.kappa, a.continuation)
        if a.only in (None, "msbl"):
            run_msbl(rs, a.problems, cache, a.msbl_starts, a.d, a.kappa)
    methods = ["recipe", *[_method(R, a.continuation) for R in restarts], f"msbl-{a.msbl_starts}"]
    data = collect(cache, rs, a.problems, methods)
    data["command"] = "python bench/goldfish.py " + " ".join(argv if argv is not None else sys.argv[1:])
    (out / "goldfish.json").write_text(json.dumps(data, indent=1, default=float))
    md = render(data)
    (out / "goldfish.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
