"""Fuzz: corrupt problem archives are input errors — exit 2, one line on stderr, nothing written.

Hypothesis builds a valid small problem, then breaks its .npz in one of several ways (truncated bytes, object
arrays, wrong dtypes, complex values, NaN/inf, mismatched shapes, a header declaring a huge array, a missing key).
`vaetheory check` runs in process (click's CliRunner) with an --out folder that must not appear. The mutation test
puts back the old loader (complex cast to real with only a warning) and shows the property then fails.
"""
from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import vaetheory.cli.commands  # noqa: F401  (registers the subcommands)
from vaetheory.cli import EXIT_USAGE, cli

KINDS = ("truncated", "object", "dtype", "complex", "nonfinite", "shape", "huge", "missing")
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def _valid_arrays(seed: int, d: int, kappa: int, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((d, kappa))
    Z = np.zeros((kappa, n))
    Z[rng.choice(kappa, size=1, replace=False)] = rng.standard_normal((1, n))
    return {"Phi": Phi, "X": Phi @ Z, "Z": Z, "noise": np.float64(0.0)}


def _npz_bytes(arrays: dict, allow_pickle: bool = True) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _huge_member(name: str, shape: tuple[int, ...]) -> bytes:
    """An .npz whose member `name` declares `shape` of float64 but holds 64 bytes."""
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, {"descr": "<f8", "fortran_order": False, "shape": shape})
    npy.write(b"\0" * 64)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(f"{name}.npy", npy.getvalue())
        for other in ("Phi", "X"):
            if other != name:
                zf.writestr(f"{other}.npy", _npy(np.ones((2, 3))))
    return out.getvalue()


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


@st.composite
def corrupt_archives(draw, kinds=KINDS) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(kinds))
    d, kappa, n = draw(st.integers(2, 4)), draw(st.integers(3, 6)), draw(st.integers(1, 3))
    arrays = _valid_arrays(draw(st.integers(0, 2**32 - 1)), d, kappa, n)
    key = draw(st.sampled_from(["Phi", "X", "Z"]))
    if kind == "truncated":
        data = _npz_bytes(arrays)
        return kind, data[:draw(st.integers(0, len(data) - 1))]
    if kind == "object":
        arrays[key] = np.array([arrays[key], None], dtype=object)
    elif kind == "dtype":
        shape = arrays[key].shape
        arrays[key] = draw(st.sampled_from([
            np.full(shape, "x"), arrays[key] > 0, np.zeros(shape, dtype="datetime64[s]"),
            np.zeros(shape, dtype=[("a", "f8")]), np.zeros(shape, dtype="V8")]))
    elif kind == "complex":
        imag = draw(st.sampled_from([0.0, 1.0]))  # even a zero imaginary part: the dtype is refused, never cast
        arrays[key] = arrays[key] + 1j * imag * np.ones_like(arrays[key])
    elif kind == "nonfinite":
        target = draw(st.sampled_from(["Phi", "X", "Z", "noise"]))
        value = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        a = np.array(arrays[target], dtype=np.float64)
        if a.ndim == 0:
            a = np.float64(value)
        else:
            a[draw(st.integers(0, a.shape[0] - 1)), draw(st.integers(0, a.shape[1] - 1))] = value
        arrays[target] = a
    elif kind == "shape":
        arrays[key] = draw(st.sampled_from([
            np.zeros((arrays[key].shape[0] + 1, arrays[key].shape[1])) + 1.0,  # one row too many
            np.ones(arrays[key].size),  # 1-D
            np.ones((1, *arrays[key].shape)),  # 3-D
            np.ones((0, arrays[key].shape[1])),  # empty
        ]))
    elif kind == "huge":
        shape = draw(st.sampled_from([(10**6, 10**6), (2**40,), (10**5, 10**5, 10)]))
        return kind, _huge_member(draw(st.sampled_from(["Phi", "X"])), shape)
    elif kind == "missing":
        del arrays[draw(st.sampled_from(["Phi", "X"]))]
    return kind, _npz_bytes(arrays)


def _assert_rejected(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "p.npz", Path(tmp) / "out"
        path.write_bytes(data)
        res = CliRunner().invoke(cli, ["check", "--variant", "vae-full", "--problem", str(path), "--restarts", "1",
                                       "--out", str(out)])
        assert res.exit_code == EXIT_USAGE, (res.exit_code, res.output, res.exception)
        lines = res.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("vaetheory: error: "), res.stderr
        assert "Traceback" not in res.output and res.stdout == ""
        assert not out.exists()  # nothing written
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["p.npz"]


@FUZZ
@given(corrupt_archives())
def test_corrupt_archives_are_one_line_input_errors(case):
    _, data = case
    _assert_rejected(data)


def test_mutation_old_loader_casting_complex_fails_the_property(monkeypatch):
    """Put back the old conversion (np.asarray(value, float64): complex cast to real with a ComplexWarning): the
    property must then find a complex archive that is not rejected."""
    from vaetheory.core import validation

    original = validation.as_matrix

    def casting(value, name, **kw):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = np.asarray(value).real if np.iscomplexobj(value) else value
        return original(value, name, **kw)

    monkeypatch.setattr(validation, "as_matrix", casting)
    import vaetheory.problems.problem as problem_module

    monkeypatch.setattr(problem_module, "as_matrix", casting)

    @settings(max_examples=5, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow],
              phases=[Phase.generate])  # every complex archive is a counterexample: no need to shrink
    @given(corrupt_archives(kinds=("complex",)))
    def prop(case):
        _assert_rejected(case[1])

    with pytest.raises(AssertionError):
        prop()
