"""The sweep's start mix (spec keys ``adversarial``, ``continuation``, ``relax``; `SweepSpec.start_mix`): adversarial
starts still run by default on the main job's sizes, and the fixed-point stage still lets them reach bad minima."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from vaetheory.core.errors import InputError
from vaetheory.problems.generate import make_problem
from vaetheory.problems.profiles import get_profile
from vaetheory.sweep.spec import Cell, spec_from_text
from vaetheory.sweep.tasks import run_task
from vaetheory.variants.registry import get_variant
from vaetheory.verdict.check import run_check

BASE = """[sweep]
name = "mix"
problems = 1
restarts = 4
variants = ["vae-diag"]
gamma = ["fixed:1e-6"]
oracle = "enumerate"
reports = 0
{extra}
[grid]
d = [6]
kappa = [12]
r = [2]
n = [4]
rows = ["orthogonal"]
"""


def _spec(extra=""):
    return spec_from_text(BASE.format(extra=extra))


def test_auto_keeps_adversarial_starts_up_to_d_50_and_drops_them_above():
    spec = _spec()
    assert spec.start_mix(Cell(8, 16, 3, 6, "orthogonal")) == (0.25, False, True)
    assert spec.start_mix(Cell(50, 100, 20, 20, "gaussian")) == (0.25, False, True)
    assert spec.start_mix(Cell(100, 200, 20, 1, "gaussian")) == (0.0, False, False)
    assert spec.start_mix(Cell(100, 200, 40, 1, "gaussian")) == (0.0, True, False)


def test_explicit_keys_win():
    spec = _spec('adversarial = 0.5\ncontinuation = true\nrelax = false')
    assert spec.start_mix(Cell(100, 200, 2, 1, "gaussian")) == (0.5, True, False)
    spec = _spec('adversarial = 0.25')
    assert spec.start_mix(Cell(100, 200, 2, 1, "gaussian")) == (0.25, False, True)  # relax auto: its start is used


@pytest.mark.parametrize("extra, message", [
    ("adversarial = 1.0", 'spec: [sweep] adversarial must be "auto" or a fraction of the restarts in [0, 1), got 1.0'),
    ("adversarial = true", 'spec: [sweep] adversarial must be "auto" or a fraction of the restarts in [0, 1), got True'),
    ('continuation = "yes"', 'spec: [sweep] continuation must be true, false or "auto", got \'yes\''),
    ("relax = 1", 'spec: [sweep] relax must be true, false or "auto", got 1'),
])
def test_bad_start_mix_values_are_one_exact_line(extra, message):
    with pytest.raises(InputError) as info:
        _spec(extra)
    assert str(info.value) == message


def test_the_main_job_sizes_get_adversarial_starts_by_default():
    """Every problem of every main-job profile is at most d = 50, where the sweep's auto mix keeps a quarter of
    adversarial starts; `run_check` (what the main job calls) keeps them by default too."""
    spec = _spec()
    for name in ("ci", "dev", "deep"):
        for ps in get_profile(name).problems:
            cell = Cell(ps.d, ps.kappa, ps.r, ps.n, ps.rows)
            assert spec.start_mix(cell)[0] > 0, (name, ps)
    assert inspect.signature(run_check).parameters["adversarial_fraction"].default > 0


def test_a_sweep_task_at_a_small_size_runs_adversarial_starts():
    spec = _spec()
    out = run_task(spec, spec.tasks()[0])
    kinds = {r["start_kind"] for r in out["rows"]}
    assert not any(r["error"] for r in out["rows"]), out["rows"][0]["error"]
    assert kinds & {"bfs", "l21"}, kinds


def test_with_the_fixed_point_stage_bfs_starts_still_reach_bad_minima():
    """vae-diag keeps bad minima at non-optimal basic feasible solutions (docs/theory.md C2): the BFS starts, now
    searched by the fixed-point stage before Newton, still end there."""
    problem = make_problem(6, 12, 2, 4, "orthogonal", seed=1)
    res = run_check(problem, get_variant("vae-diag"), restarts=8, seed=0, gamma=1e-6, adversarial_fraction=0.5,
                    prove=False)
    bfs = [p for p in res.points if p.start_kind == "bfs"]
    assert bfs and any(p.verdict == "bad_local_min" for p in bfs), [(p.start_kind, p.verdict) for p in res.points]
    assert np.isfinite([p.energy for p in res.points]).all()


def test_auto_mix_has_no_continuation_share_above_d_50_in_either_gamma_mode(monkeypatch):
    """With γ learned, `run_check` makes a quarter of the restarts continuation starts; the sweep's auto mix above
    d = 50 has none unless r > d/4 (then all are), as at fixed γ. An explicit `continuation` keeps check's mix."""
    import vaetheory.verdict.check as check

    spec = _spec()
    assert spec.anneal_fraction(Cell(8, 16, 3, 6, "orthogonal")) == 0.25
    assert spec.anneal_fraction(Cell(100, 200, 20, 1, "gaussian")) == 0.0
    assert _spec("continuation = false").anneal_fraction(Cell(100, 200, 20, 1, "gaussian")) == 0.25
    seen = {}

    def fake_run_check(*args, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(check, "run_check", fake_run_check)
    big = spec_from_text(BASE.format(extra="").replace('gamma = ["fixed:1e-6"]', 'gamma = ["learned"]')
                         .replace('oracle = "enumerate"', 'oracle = "none"')
                         .replace("d = [6]", "d = [100]").replace("kappa = [12]", "kappa = [200]")
                         .replace("n = [4]", "n = [1]").replace('rows = ["orthogonal"]', 'rows = ["gaussian"]'))
    out = run_task(big, big.tasks()[0])
    assert "stop here" in out["rows"][0]["error"]
    assert seen["learn_gamma"] and seen["anneal_fraction"] == 0.0 and not seen["continuation"]
    from vaetheory.search.multistart import make_starts
    from vaetheory.search.objective import Objective

    p = make_problem(100, 200, 20, 1, "gaussian", seed=0)
    kinds = make_starts(Objective(get_variant("vae-full"), p), 8, np.random.default_rng(0), 1e-4, learn_gamma=True,
                   anneal_fraction=seen["anneal_fraction"]).kinds
    assert set(kinds) == {"random"}
