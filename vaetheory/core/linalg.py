"""Small dense linear-algebra helpers shared by problem analysis and the oracles."""
from __future__ import annotations

import numpy as np


def numerical_rank(A: np.ndarray, rtol: float = 1e-10) -> int:
    """Number of singular values above ``rtol`` times the largest (0 for an empty or zero matrix)."""
    s = np.linalg.svd(A, compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0
