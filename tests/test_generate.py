"""Generators: reproducible seeds, the promised structure of Φ and Z*, and InputError on bad arguments."""
from __future__ import annotations

import numpy as np
import pytest

from vaetheory.core.errors import InputError
from vaetheory.problems.generate import (ROW_KINDS, coherent_dictionary, gaussian_dictionary, make_problem, mutual_coherence,
                                sparse_codes)


def _rank(A: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(A, tol=1e-10 * np.linalg.norm(A, 2)))


@pytest.mark.parametrize("rows", ROW_KINDS)
def test_seed_reproduces_exactly(rows):
    a = make_problem(6, 12, 3, 4, rows, seed=11, noise=0.01)
    b = make_problem(6, 12, 3, 4, rows, seed=11, noise=0.01)
    c = make_problem(6, 12, 3, 4, rows, seed=12, noise=0.01)
    for name in ("Phi", "X", "Z"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.X, c.X)


def test_generator_and_seed_agree():
    a = make_problem(5, 8, 2, 3, seed=4)
    b = make_problem(5, 8, 2, 3, seed=np.random.default_rng(4))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(gaussian_dictionary(4, 6, 9), gaussian_dictionary(4, 6, 9))
    np.testing.assert_array_equal(coherent_dictionary(6, 10, 0.95, 9), coherent_dictionary(6, 10, 0.95, 9))


def test_make_problem_structure():
    p = make_problem(6, 12, 3, 5, seed=2)
    assert (p.d, p.kappa, p.n) == (6, 12, 5)
    assert len(p.support) == 3
    np.testing.assert_allclose(np.linalg.norm(p.Phi, axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(p.X, p.Phi @ p.Z, rtol=0, atol=1e-12)
    assert p.noise == 0.0


def test_noise_is_added_with_the_given_scale():
    clean = make_problem(8, 12, 2, 16, seed=5)
    noisy = make_problem(8, 12, 2, 16, seed=5, noise=0.1)
    np.testing.assert_array_equal(noisy.Phi, clean.Phi)
    np.testing.assert_array_equal(noisy.Z, clean.Z)
    resid = noisy.X - noisy.Phi @ noisy.Z
    assert noisy.noise == 0.1
    assert 0.07 < resid.std() < 0.13  # 128 draws of N(0, 0.1²)


@pytest.mark.parametrize("seed", range(4))
def test_orthogonal_rows_are_orthogonal(seed):
    Z = sparse_codes(12, 4, 6, "orthogonal", seed)
    S = np.flatnonzero(np.any(Z != 0, axis=1))
    assert S.size == 4
    G = Z[S] @ Z[S].T
    off = G - np.diag(np.diag(G))
    assert np.abs(off).max() <= 1e-12 * np.diag(G).max()
    norms = np.sqrt(np.diag(G))
    assert np.all((norms >= 0.5 - 1e-12) & (norms <= 2 + 1e-12))


def test_gaussian_rows_are_not_orthogonal():
    Z = sparse_codes(12, 4, 6, "gaussian", 0)
    S = np.flatnonzero(np.any(Z != 0, axis=1))
    G = Z[S] @ Z[S].T
    assert np.abs(G - np.diag(np.diag(G))).max() > 1e-3


@pytest.mark.parametrize("r, rank", [(4, 1), (4, 2), (4, 3), (5, None)])
def test_rank_deficient_has_the_requested_rank(r, rank):
    Z = sparse_codes(12, r, 8, "rank_deficient", 3, rank=rank)
    assert np.count_nonzero(np.any(Z != 0, axis=1)) == r
    expected = max(1, r - 1) if rank is None else rank
    assert _rank(Z) == expected
    p = make_problem(8, 12, r, 8, "rank_deficient", seed=3, rank=rank)
    assert _rank(p.X) == expected


def test_explicit_support():
    Z = sparse_codes(10, 3, 4, "gaussian", 0, support=[7, 1, 4])
    assert list(np.flatnonzero(np.any(Z != 0, axis=1))) == [1, 4, 7]


@pytest.mark.parametrize("target", [0.95, 0.97, 0.99])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coherent_dictionary_reaches_the_coherence(target, seed):
    Phi = coherent_dictionary(6, 10, target, seed)
    assert Phi.shape == (6, 10)
    np.testing.assert_allclose(np.linalg.norm(Phi, axis=0), 1.0, rtol=1e-12)
    assert abs(mutual_coherence(Phi) - target) <= 1e-3


def test_coherent_problem():
    p = make_problem(6, 10, 2, 3, seed=0, coherence=0.97)
    assert abs(mutual_coherence(p.Phi) - 0.97) <= 1e-3


def test_mutual_coherence_by_hand():
    Phi = np.array([[1.0, 0.0, 3.0], [0.0, 2.0, 4.0]])
    assert mutual_coherence(Phi) == pytest.approx(0.8)  # columns 1 and 2: 8 / (2·5)


@pytest.mark.parametrize("call, match", [
    (lambda: gaussian_dictionary(0, 5), "d must be >= 1, got 0"),
    (lambda: gaussian_dictionary(3, 0), "kappa must be >= 1, got 0"),
    (lambda: gaussian_dictionary(3.0, 5), "d must be an integer, got 3.0"),
    (lambda: gaussian_dictionary(True, 5), "d must be an integer, got True"),
    (lambda: sparse_codes(5, 6, 4), r"r must be in \[1, 5\], got 6"),
    (lambda: sparse_codes(5, 0, 4), r"r must be in \[1, 5\], got 0"),
    (lambda: sparse_codes(5, 2, 0), "n must be >= 1, got 0"),
    (lambda: sparse_codes(8, 4, 3, "orthogonal"), "orthogonal rows need n >= r, got n=3 < r=4"),
    (lambda: sparse_codes(8, 2, 3, "fancy"), "rows must be one of orthogonal, gaussian, rank_deficient; got 'fancy'"),
    (lambda: sparse_codes(8, 3, 3, "rank_deficient", rank=4), r"rank must be in \[1, 3\], got 4"),
    (lambda: sparse_codes(8, 3, 3, "rank_deficient", rank=0), r"rank must be in \[1, 3\], got 0"),
    (lambda: sparse_codes(8, 3, 3, support=[1, 1, 2]), r"support must hold 3 distinct indices in \[0, 8\)"),
    (lambda: sparse_codes(8, 3, 3, support=[1, 2]), r"support must hold 3 distinct indices"),
    (lambda: sparse_codes(8, 2, 3, support=[1, 8]), r"support must hold 2 distinct indices in \[0, 8\)"),
    (lambda: sparse_codes(8, 2, 3, support=[-1, 3]), r"support must hold 2 distinct indices"),
    (lambda: coherent_dictionary(6, 10, 0.0), r"coherence must be in \(0, 1\), got 0.0"),
    (lambda: coherent_dictionary(6, 10, 1.0), r"coherence must be in \(0, 1\), got 1.0"),
    (lambda: coherent_dictionary(6, 10, 0.01, 0), "coherence 0.01 is below what this draw reaches"),
    (lambda: make_problem(0, 5, 1, 1), "d must be >= 1, got 0"),
    (lambda: make_problem(4, 6, 2, 3, noise=-0.1), "noise must be finite and >= 0, got -0.1"),
    (lambda: make_problem(4, 6, 2, 3, noise=np.nan), "noise must be finite and >= 0, got nan"),
])
def test_bad_arguments(call, match):
    with pytest.raises(InputError, match=match):
        call()
