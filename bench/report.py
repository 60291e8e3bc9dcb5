"""results.md: Markdown tables of bench/results.json, regenerated from the whole JSON after every section."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e5 else f"{v:.3e}"
    if isinstance(v, int) and abs(v) >= 10**6:
        return f"{v:.3e}"
    return str(v)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_f(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _head(name: str, sec: dict) -> str:
    return (f"\n## {name}\n\nfinished {sec.get('finished')}, {_f(sec.get('seconds'))} s, load at end "
            f"{sec.get('load_end')}{' (--quick)' if sec.get('quick') else ''}\n\n")


def enumeration(sec: dict) -> str:
    out = "Subsets per second at a fixed level k (n = 1, 1 thread; batched = subset generation + `_screen`):\n\n"
    out += _table(["d", "κ", "k", "C(κ,k)", "batched screen /s", "batched incl. generation /s", "loop /s",
                   "speedup", "load"],
                  [[r["d"], r["kappa"], r["k"], r["C(kappa,k)"], r["batched_screen_per_s"],
                    r["batched_with_generation_per_s"], r["loop_per_s"], r["speedup"], r["load"][0]]
                   for r in sec["rates"]])
    out += ("\nEnd-to-end P0 (k* and all optimal supports), seconds; `~` = extrapolated from the measured rate × "
            "subsets to k*; MIP = cvxpy + HiGHS big-M, M = 10·max|Z*|:\n\n")
    out += _table(["d", "κ", "r", "subsets to k*", "oracle s", "loop s", "MIP s", "MIP status", "MIP correct",
                   "load"],
                  [[r["d"], r["kappa"], r["r"], r["subsets_to_k_star"],
                    ("~" if r["oracle_extrapolated"] else "") + _f(r["oracle_seconds"]),
                    ("~" if r["loop_extrapolated"] else "") + _f(r["loop_seconds"]),
                    r["mip_seconds"], r["mip_status"], r["mip_correct"], r["load"][0]] for r in sec["solves"]])
    return out


def recovery(sec: dict) -> str:
    p, run = sec["protocol"], sec["recipe_run"]
    out = (f"d={p['d']}, κ={p['kappa']}, n=1, {p['trials']} trials per r. vaetheory: vae-full, {p['restarts']} "
           f"restart(s), γ={p['gamma']:g} fixed, recovered = lowest-energy end point certified with the planted "
           f"support. Recipe: {run['trials_per_r']} trials per r, {run['steps']} Adam steps, batch {run['batch']}, "
           f"{_f(run['seconds'])} s; full protocol {_f(run['full_protocol_seconds'])} s"
           f"{' (EXTRAPOLATED)' if run['full_protocol_seconds_is_extrapolated'] else ' (measured)'}.\n\n")
    out += _table(["r", "vaetheory recovery", "vaetheory s/trial", "recipe recovery (1e-2)", "recipe 1e-1 / 1e-3 / "
                   "top-r", "recipe trials", "recipe s/trial", "time ratio recipe/vaetheory", "published recipe"],
                  [[r["r"], r["vaetheory_recovery"], r["vaetheory_seconds_per_trial"], r["recipe_recovery"],
                    " / ".join(_f(r["recipe_recovery_rules"][k]) for k in ("rtol_0.1", "rtol_0.001", "top_r")),
                    r["recipe_trials"], r["recipe_seconds_per_trial"], r["speedup"],
                    sec["published_recipe"].get(str(r["r"]))] for r in sec["rows"]])
    return out


def scaling(sec: dict) -> str:
    out = "Search time (vae-full, 8 random restarts, best of repeats) vs size:\n\n"
    out += _table(["axis", "d", "κ", "r", "n", "seconds", "L-BFGS-B it", "Newton it", "load"],
                  [[r.get("axis", "base"), r["d"], r["kappa"], r["r"], r["n"], r["seconds"], r["nit"],
                    r["newton_iters"], r["load"][0]] for r in sec["search_vs_size"]])
    out += "\nBatched restarts (base problem):\n\n"
    out += _table(["R", "seconds", "seconds / (R × one restart)", "load"],
                  [[r["restarts"], r["seconds"], r["ratio_to_R_times_one"], r["load"][0]]
                   for r in sec["search_vs_restarts"]])
    out += f"\nWhere the oracle stops being usable ({sec['oracle_limits_note']}):\n\n"
    out += _table(["k", "subsets/s", "max κ in 1 s", "max κ in 60 s", "max κ in 1 h", "s at κ=200"],
                  [[r["k"], r["subsets_per_s"], r["max_kappa_1s"], r["max_kappa_60s"], r["max_kappa_3600s"],
                    r["seconds_at_kappa_200"]] for r in sec["oracle_limits"]])
    return out


def properties(sec: dict) -> str:
    if not sec.get("measured"):
        return f"NOT MEASURED: {sec.get('reason')}\n"
    return _table(["profile", "examples", "wall s", "examples / min", "pytest outcome", "load before"],
                  [[sec["profile"], sec["examples"], sec["wall_seconds"], sec["examples_per_minute"],
                    str(sec["outcome"]), sec["load_before"][0]]])


def cli(sec: dict) -> str:
    p = sec["problem"]
    out = (f"`vaetheory check --variant V --problem P.npz --restarts {sec['rows'][0]['restarts']} --json` on "
           f"d={p['d']}, κ={p['kappa']}, r={p['r']}, n={p['n']} ({p['rows']}, seed {p['seed']}); target < "
           f"{sec['target_seconds']:g} s; each command killed after {_f(sec.get('timeout_seconds'))} s. "
           f"Process import alone: {_f(sec.get('import_seconds'))} s.\n\n")
    out += _table(["variant", "wall s", "search s", "certify s", "verdicts", "claim", "exit", "load before"],
                  [[r["variant"], r["wall_seconds"], r.get("timings", {}).get("search"),
                    r.get("timings", {}).get("certify"),
                    ", ".join(f"{k}={v}" for k, v in r.get("summary", {}).items() if v) or r.get("error", "")[:80],
                    r.get("claim"), "timeout" if r.get("timed_out") else r["exit_code"], r["load_before"][0]]
                   for r in sec["rows"]])
    return out


def prototypes(sec: dict) -> str:
    out = f"Proposal: {sec['proposal']}.\n\n"
    return out + _table(["d", "κ", "n", "points", "library points/s", "closed form points/s", "speedup",
                         "max rel diff", "load"],
                        [[r["d"], r["kappa"], r["n"], r["points"], r["library_points_per_s"],
                          r["closed_form_points_per_s"], r["speedup"], r["max_rel_diff"], r["load"][0]]
                         for r in sec["rows"]]) + (
        f"\nProposal: {sec['hessian_proposal']}.\n\n" + _table(
            ["d", "κ", "n", "points", "library points/s", "closed form points/s", "speedup", "max rel diff", "load"],
            [[r["d"], r["kappa"], r["n"], r["points"], r["library_points_per_s"], r["closed_form_points_per_s"],
              r["speedup"], r["max_rel_diff"], r["load"][0]] for r in sec["hessian_rows"]])
        + "\nEnd to end: `minimise` (vae-full, γ = 1e-6, random starts) with the library Hessian vs the closed form "
        "monkeypatched into `Objective.active_hessian`, same starts:\n\n" + _table(
            ["d", "κ", "r", "n", "R", "library s", "patched s", "speedup", "same supports", "max abs ΔE", "load"],
            [[r["d"], r["kappa"], r["r"], r["n"], r["restarts"], r["library_seconds"], r["patched_seconds"],
              r["speedup"], r["same_supports"], r["energy_max_abs_diff"], r["load"][0]]
             for r in sec.get("search_patched", [])])
        + "\nTorch 8×8 Cholesky, µs per call: "
        + ", ".join(f"{k}: {_f(v)}" for k, v in sec["threads"].items()) + "\n")


RENDER = {"enumeration": enumeration, "recovery": recovery, "scaling": scaling, "properties": properties,
          "cli": cli, "prototypes": prototypes}


def write_markdown(data: dict, path: Path) -> None:
    """Write the tables for whatever sections `data` holds (in the fixed section order)."""
    m = data.get("meta", {}).get("machine", {})
    text = ("# vaetheory benchmark results\n\nGenerated by `bench/run.py` from `results.json` (see README.md for "
            f"what each figure means). Machine: {m.get('cpus')} CPUs, {m.get('platform')}, Python "
            f"{m.get('python')}, torch {m.get('torch')}, numpy {m.get('numpy')}; shared with other jobs — every "
            "figure carries the 1-minute load average.\n")
    for name, render in RENDER.items():
        if name in data.get("sections", {}):
            sec = data["sections"][name]
            text += _head(name, sec) + render(sec)
    path.write_text(text)
