"""Problem: validation with exact messages, immutability, .npz round trip, load errors, atomic save."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

from vaetheory.core.errors import InputError
from vaetheory.problems.problem import RANGE_RTOL, Problem


@pytest.fixture
def parts():
    """A valid noiseless (Phi, X, Z): d=3, κ=5, n=2, support {0, 3}."""
    rng = np.random.default_rng(7)
    Phi = rng.standard_normal((3, 5))
    Z = np.zeros((5, 2))
    Z[[0, 3]] = rng.standard_normal((2, 2))
    return Phi, Phi @ Z, Z


def _raises(message: str, **kwargs) -> None:
    with pytest.raises(InputError) as info:
        Problem(**kwargs)
    assert str(info.value) == message


# Validation ---------------------------------------------------------------------------------------------------------

def test_valid_problem_attributes(parts):
    Phi, X, Z = parts
    p = Problem(Phi=Phi, X=X, Z=Z)
    assert (p.d, p.kappa, p.n) == (3, 5, 2)
    assert p.support == (0, 3)
    assert p.noise == 0.0
    assert p.describe() == "d=3 kappa=5 n=2 r=2 noise=0"
    assert Problem(Phi=Phi, X=X).support is None
    assert "r=?" in Problem(Phi=Phi, X=X).describe()


@pytest.mark.parametrize("name, at", [("Phi", (1, 2)), ("X", (2, 1)), ("Z", (3, 0))])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(parts, name, at, bad):
    arrays = dict(zip(("Phi", "X", "Z"), (a.copy() for a in parts)))
    arrays[name][at] = bad
    _raises(f"{name} contains 1 non-finite value(s), first at [{at[0]}, {at[1]}]: {bad}", **arrays)


def test_non_finite_count_and_first_position(parts):
    Phi, X, Z = parts
    X = X.copy()
    X[1, 1] = X[2, 0] = np.nan
    _raises("X contains 2 non-finite value(s), first at [1, 1]: nan", Phi=Phi, X=X, Z=Z)


@pytest.mark.parametrize("name, value, message", [
    ("Phi", np.ones(3), "Phi must be a 2-D array, got 1-D with shape (3,)"),
    ("Phi", np.ones((3, 5, 1)), "Phi must be a 2-D array, got 3-D with shape (3, 5, 1)"),
    ("X", np.ones((4, 2)), "X must have 3 rows, got shape (4, 2)"),
    ("X", np.ones(3), "X must be a 2-D array, got 1-D with shape (3,)"),
    ("Z", np.zeros((4, 2)), "Z must have 5 rows, got shape (4, 2)"),
    ("Z", np.zeros((5, 3)), "Z must have 2 columns, got shape (5, 3)"),
    ("Phi", np.zeros((3, 0)), "Phi must be non-empty, got shape (3, 0)"),
    ("X", np.zeros((3, 0)), "X must be non-empty, got shape (3, 0)"),
])
def test_wrong_shapes(parts, name, value, message):
    arrays = dict(zip(("Phi", "X", "Z"), parts))
    arrays[name] = value
    _raises(message, **arrays)


def test_non_numeric_array(parts):
    Phi, X, _ = parts
    with pytest.raises(InputError, match=r"^Phi must be a real numeric array, got dtype <U1"):
        Problem(Phi=[["a", "b"], ["c", "d"]], X=X)
    with pytest.raises(InputError, match=r"^X must be a numeric array \("):  # ragged
        Problem(Phi=Phi, X=[[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_complex_arrays_are_refused_not_cast(parts, dtype):
    """Before: numpy cast a complex Φ to real with a ComplexWarning and the check ran on the real part."""
    Phi, X, _ = parts
    with pytest.raises(InputError, match=r"^Phi is complex-valued"):
        Problem(Phi=Phi.astype(dtype), X=X)
    with pytest.raises(InputError, match=r"^X is complex-valued"):
        Problem(Phi=Phi, X=X + 0j)
    with pytest.raises(InputError, match=r"must be a real numeric array, got dtype bool"):
        Problem(Phi=Phi > 0, X=X)
    with pytest.raises(InputError, match=r"noise must be a numeric scalar"):
        Problem.from_arrays({"Phi": Phi, "X": X, "noise": np.complex128(0.1)})


@pytest.mark.parametrize("noise", [-1.0, np.nan, np.inf])
def test_bad_noise(parts, noise):
    Phi, X, _ = parts
    _raises(f"noise must be finite and >= 0, got {float(noise)}", Phi=Phi, X=X, noise=noise)


def test_zero_columns(parts):
    Phi, X, _ = parts
    Phi = Phi.copy()
    Phi[:, [1, 4]] = 0.0
    _raises("Phi has 2 zero column(s), first at index 1", Phi=Phi, X=X, noise=0.1)


def test_x_all_zero(parts):
    Phi, X, _ = parts
    _raises("X is all zeros: there is nothing to represent", Phi=Phi, X=np.zeros_like(X))


def _tall_problem():
    """Φ (4×2) does not span R⁴, so a generic X is outside range(Φ)."""
    rng = np.random.default_rng(1)
    Phi = rng.standard_normal((4, 2))
    X = rng.standard_normal((4, 3))
    return Phi, X


def test_x_outside_range_noiseless():
    Phi, X = _tall_problem()
    with pytest.raises(InputError) as info:
        Problem(Phi=Phi, X=X)
    msg = str(info.value)
    m = re.fullmatch(r"X is not in range\(Phi\): relative residual (\S+) > 1e-08 \(pass noise > 0 for a noisy problem\)",
                     msg)
    assert m, msg
    coef, *_ = np.linalg.lstsq(Phi, X, rcond=None)
    assert float(m.group(1)) == pytest.approx(np.linalg.norm(X - Phi @ coef) / np.linalg.norm(X), rel=1e-2)


def test_x_outside_range_is_fine_when_noisy():
    Phi, X = _tall_problem()
    assert Problem(Phi=Phi, X=X, noise=0.5).noise == 0.5


def test_range_tolerance_boundary():
    """A perturbation well below RANGE_RTOL is accepted, one well above is not."""
    Phi, X = _tall_problem()
    X_in = Phi @ np.ones((2, 3))
    out_dir = np.linalg.svd(Phi, full_matrices=True)[0][:, 2:3]  # orthogonal to range(Φ)
    scale = np.linalg.norm(X_in)
    Problem(Phi=Phi, X=X_in + 1e-3 * RANGE_RTOL * scale * out_dir)
    with pytest.raises(InputError, match="not in range"):
        Problem(Phi=Phi, X=X_in + 1e3 * RANGE_RTOL * scale * out_dir)


def test_x_not_phi_z(parts):
    Phi, X, Z = parts
    Z = Z.copy()
    Z[1, 0] = 1.0  # still in range(Φ) (Φ spans R³), but no longer Φ Z
    with pytest.raises(InputError) as info:
        Problem(Phi=Phi, X=X, Z=Z)
    m = re.fullmatch(r"X != Phi @ Z: relative residual (\S+) > 1e-08", str(info.value))
    assert m, str(info.value)
    assert float(m.group(1)) == pytest.approx(np.linalg.norm(Phi[:, 1]) / np.linalg.norm(X), rel=1e-2)


def test_x_not_phi_z_allowed_when_noisy(parts):
    Phi, X, Z = parts
    p = Problem(Phi=Phi, X=X + 0.01, Z=Z, noise=0.01)
    np.testing.assert_array_equal(p.Z, Z)


# Immutability -------------------------------------------------------------------------------------------------------

def test_arrays_are_read_only_copies(parts):
    Phi, X, Z = (a.copy() for a in parts)
    p = Problem(Phi=Phi, X=X, Z=Z)
    for name in ("Phi", "X", "Z"):
        arr = getattr(p, name)
        assert arr.dtype == np.float64
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0, 0] = 1.0
    Phi[0, 0] += 1.0  # the caller's array is not shared
    assert p.Phi[0, 0] != Phi[0, 0]
    with pytest.raises(AttributeError):
        p.X = X  # frozen dataclass


def test_integer_input_becomes_float64():
    p = Problem(Phi=np.eye(2, dtype=int), X=np.array([[1], [2]]))
    assert p.Phi.dtype == np.float64 and p.X.dtype == np.float64


# I/O ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("with_z, noise", [(True, 0.0), (False, 0.0), (True, 0.25)])
def test_npz_round_trip(parts, tmp_path, with_z, noise):
    Phi, X, Z = parts
    p = Problem(Phi=Phi, X=X, Z=Z if with_z else None, noise=noise)
    path = p.save(tmp_path / "sub" / "p.npz")  # parent directory created
    assert path == tmp_path / "sub" / "p.npz"
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == ({"Phi", "X", "Z", "noise"} if with_z else {"Phi", "X", "noise"})
        assert data["noise"].shape == ()
    q = Problem.load(path)
    np.testing.assert_array_equal(q.Phi, p.Phi)
    np.testing.assert_array_equal(q.X, p.X)
    assert q.noise == noise
    if with_z:
        np.testing.assert_array_equal(q.Z, p.Z)
    else:
        assert q.Z is None
    assert not q.X.flags.writeable


def test_load_plain_npz_without_noise_key(parts, tmp_path):
    Phi, X, _ = parts
    np.savez(tmp_path / "p.npz", Phi=Phi, X=X)
    assert Problem.load(tmp_path / "p.npz").noise == 0.0


def test_save_leaves_no_temp_file_and_overwrites(parts, tmp_path):
    Phi, X, Z = parts
    Problem(Phi=Phi, X=X).save(tmp_path / "p.npz")
    Problem(Phi=Phi, X=X, Z=Z).save(tmp_path / "p.npz")
    assert sorted(os.listdir(tmp_path)) == ["p.npz"]
    assert Problem.load(tmp_path / "p.npz").Z is not None


def test_failed_save_keeps_old_file_and_removes_temp(parts, tmp_path, monkeypatch):
    Phi, X, Z = parts
    target = tmp_path / "p.npz"
    Problem(Phi=Phi, X=X).save(target)
    before = target.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        Problem(Phi=Phi, X=X, Z=Z).save(target)
    assert sorted(os.listdir(tmp_path)) == ["p.npz"]
    assert target.read_bytes() == before


def test_load_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(InputError) as info:
        Problem.load(path)
    assert str(info.value) == f"{path}: no such file"


def test_load_directory_is_no_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        Problem.load(tmp_path)


def test_load_not_an_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: not a readable \.npz file \("):
        Problem.load(path)


def test_load_truncated_npz(parts, tmp_path):
    Phi, X, Z = parts
    path = Problem(Phi=Phi, X=X, Z=Z).save(tmp_path / "p.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match=r"not a readable \.npz file"):
        Problem.load(path)


def test_load_npy_file_is_input_error(parts, tmp_path):
    path = tmp_path / "p.npy"
    np.save(path, parts[1])
    with pytest.raises(InputError, match="not a readable .npz file"):
        Problem.load(path)


@pytest.mark.parametrize("keys, missing", [({"Phi"}, "X"), ({"X"}, "Phi"), ({"Z"}, "Phi, X")])
def test_load_missing_key(parts, tmp_path, keys, missing):
    arrays = dict(zip(("Phi", "X", "Z"), parts))
    path = tmp_path / "p.npz"
    np.savez(path, **{k: arrays[k] for k in keys})
    with pytest.raises(InputError) as info:
        Problem.load(path)
    assert str(info.value) == f"{path}: missing required array(s): {missing}"


def test_load_object_array_is_refused(parts, tmp_path):
    Phi, X, _ = parts
    path = tmp_path / "p.npz"
    np.savez(path, Phi=np.array([Phi, None], dtype=object), X=X)
    with pytest.raises(InputError, match=r"array 'Phi' holds Python objects"):
        Problem.load(path)


def test_load_validates_and_names_the_file(parts, tmp_path):
    Phi, X, Z = parts
    X = X.copy()
    X[0, 0] = np.inf
    path = tmp_path / "p.npz"
    np.savez(path, Phi=Phi, X=X, Z=Z)
    with pytest.raises(InputError) as info:
        Problem.load(path)
    assert str(info.value) == f"{path}: X contains 1 non-finite value(s), first at [0, 0]: inf"


@pytest.mark.parametrize("noise", [np.array([0.1, 0.2]), np.array("abc")])
def test_load_malformed_noise_is_input_error(parts, tmp_path, noise):
    Phi, X, _ = parts
    path = tmp_path / "p.npz"
    np.savez(path, Phi=Phi, X=X, noise=noise)
    with pytest.raises(InputError, match="noise"):
        Problem.load(path)
