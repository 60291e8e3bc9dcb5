"""Smoke test of the benchmark: `bench/run.py --quick` runs end to end and writes well-formed results.

Structure only (keys, types, consistency between counts): speed is measured by the benchmark, never asserted.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = {"enumeration", "recovery", "scaling", "properties", "cli", "prototypes"}


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, cwd=out, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((out / "results.json").read_text()), (out / "results.md").read_text()


def _is_load(value) -> bool:
    return isinstance(value, list) and len(value) == 3 and all(isinstance(v, float | int) for v in value)


def test_every_section_and_meta(quick_results):
    data, md = quick_results
    assert set(data["sections"]) == SECTIONS
    assert data["meta"]["machine"]["cpus"] >= 1
    for name, sec in data["sections"].items():
        assert sec["quick"] is True and sec["seconds"] >= 0 and _is_load(sec["load_end"]), name
        assert f"## {name}" in md


def test_enumeration_structure(quick_results):
    sec = quick_results[0]["sections"]["enumeration"]
    assert sec["rates"] and sec["solves"]
    for row in sec["rates"]:
        assert row["loop_per_s"] > 0 and row["batched_with_generation_per_s"] > 0 and _is_load(row["load"])
        assert row["speedup"] == pytest.approx(row["batched_with_generation_per_s"] / row["loop_per_s"])
    for row in sec["solves"]:
        assert isinstance(row["oracle_extrapolated"], bool) and isinstance(row["mip_status"], str)
        if not row["oracle_extrapolated"]:
            assert row["oracle_correct"] is True  # the planted support is the unique sparsest one here


def test_recovery_structure(quick_results):
    sec = quick_results[0]["sections"]["recovery"]
    assert sec["protocol"]["n"] == 1 and sec["recipe_run"]["batch"] >= 1
    assert [r["r"] for r in sec["rows"]] == sec["protocol"]["rs"]
    for row in sec["rows"]:
        assert 0 <= row["vaetheory_recovery"] <= 1 and 0 <= row["recipe_recovery"] <= 1
        assert len(row["vaetheory_verdicts"]) == sec["protocol"]["trials"]
        assert set(row["recipe_recovery_rules"]) == {"rtol_0.1", "rtol_0.01", "rtol_0.001", "top_r"}


def test_scaling_structure(quick_results):
    sec = quick_results[0]["sections"]["scaling"]
    rs = sec["search_vs_restarts"]
    assert rs[0]["restarts"] == 1 and rs[0]["ratio_to_R_times_one"] == pytest.approx(1.0)
    for row in sec["oracle_limits"]:
        assert row["max_kappa_1s"] <= row["max_kappa_60s"] <= row["max_kappa_3600s"]


def test_properties_and_cli_structure(quick_results):
    secs = quick_results[0]["sections"]
    assert isinstance(secs["properties"]["measured"], bool)
    if not secs["properties"]["measured"]:
        assert secs["properties"]["reason"]
    rows = secs["cli"]["rows"]
    assert rows and all(r["exit_code"] in (0, 1, None) and r["wall_seconds"] > 0 for r in rows)
    assert all(sum(r["summary"].values()) == r["restarts"] for r in rows if "summary" in r)


def test_prototype_agrees_with_library(quick_results):
    rows = quick_results[0]["sections"]["prototypes"]["rows"]
    assert rows and all(r["max_rel_diff"] < 1e-8 for r in rows)  # a faster path is only useful if it is the same


# --- the goldfish table (issue 11): the published recipe and bench/goldfish.py on tiny sizes -------------------


def _bench_import(name: str):
    import importlib
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(name)


def test_published_recipe_tiny():
    pr = _bench_import("bench.baselines.published_recipe")
    assert pr.check_gradients() < 1e-10  # the hand gradient is autograd's
    from vaetheory.problems.generate import make_problem
    probs = [make_problem(6, 10, 2, 1, "gaussian", seed=s) for s in (1, 2)]
    Phi, x = np.stack([p.Phi for p in probs]), np.stack([p.X[:, 0] for p in probs])
    cfg = pr.RecipeConfig(steps=60)
    both = pr.train_published_recipe(Phi, x, [11, 12], cfg, progress=False)
    alone = pr.train_published_recipe(Phi[1:], x[1:], [12], cfg, progress=False)
    for res in both:
        assert res["status"] in ("ok", "nan", "exploded") and res["steps"] == 60 and len(res["u"]) == 10
        assert res["support"] == pr.support_from_u(res["u"])
    # each trial has its own random stream: its result does not depend on the rest of the batch
    np.testing.assert_allclose(both[1]["u"], alone[0]["u"], rtol=1e-4, atol=1e-6)
    # the published lr cut (first negative loss) is recorded; a cut-free config never cuts
    never = pr.train_published_recipe(Phi[:1], x[:1], [11], pr.RecipeConfig(steps=20, lr_cut_factor=1.0),
                                      progress=False)
    assert never[0]["steps"] == 20
    assert pr.support_from_u([np.nan, 2e-3, 1e-4]) == [1]


def test_goldfish_tiny(tmp_path):
    gf = _bench_import("bench.goldfish")
    argv = ["--d", "8", "--kappa", "16", "--r", "2", "--problems", "1", "--steps", "40", "--restarts", "1",
            "--out", str(tmp_path)]
    assert gf.main(argv) == 0
    data = json.loads((tmp_path / "goldfish.json").read_text())
    row = data["rows"][0]
    assert row["r"] == 2 and row["published"] == 0.8
    assert row["recipe"]["n"] == 1 and row["vaetheory-1"]["n"] == 1
    assert 0 <= row["recipe"]["recovery"] <= 1 and row["vaetheory-1"]["seconds_per_problem"] > 0
    assert "| 2 | 0.8 |" in (tmp_path / "goldfish.md").read_text()
    assert row["msbl-8"]["n"] == 1 and row["msbl-8"]["recovered"] in (0, 1) and len(row["msbl-8"]["wilson95"]) == 2
    cached = sorted(tmp_path.glob("goldfish/*/*.json"))
    assert len(cached) == 3  # recipe, vaetheory-1 and plain M-SBL, one file per problem each
    stamps = [p.stat().st_mtime_ns for p in cached]
    assert gf.main(argv) == 0  # resumable: a second run reuses the per-problem cache
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    assert gf.main(["--r", "two"]) == 2


def test_published_recipe_resumes(tmp_path, monkeypatch):
    pr = _bench_import("bench.baselines.published_recipe")
    from vaetheory.problems.generate import make_problem
    p = make_problem(6, 10, 2, 1, "gaussian", seed=3)
    Phi, x = p.Phi[None], p.X[:, 0][None]
    cfg = pr.RecipeConfig(steps=40, eps_chunk=10)
    whole = pr.train_published_recipe(Phi, x, [5], cfg, progress=False)
    ckpt = tmp_path / "state.pt"
    real, calls = pr._value_and_grad, []

    def dies_at_step_25(*args):
        calls.append(1)
        if len(calls) == 25:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(pr, "_value_and_grad", dies_at_step_25)
    with pytest.raises(KeyboardInterrupt):
        pr.train_published_recipe(Phi, x, [5], cfg, progress=False, checkpoint=ckpt, checkpoint_every=10)
    assert ckpt.exists()
    monkeypatch.setattr(pr, "_value_and_grad", real)
    resumed = pr.train_published_recipe(Phi, x, [5], cfg, progress=False, checkpoint=ckpt, checkpoint_every=10)
    assert not ckpt.exists()
    np.testing.assert_allclose(resumed[0]["u"], whole[0]["u"], rtol=1e-6, atol=1e-7)
