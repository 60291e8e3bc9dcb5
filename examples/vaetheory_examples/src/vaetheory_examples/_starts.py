"""Starting points shared by the example variants (numpy, batched over starts)."""
from __future__ import annotations

import numpy as np


def data_scale(Phi: np.ndarray, X: np.ndarray) -> float:
    """A typical prior variance for this data: the mean energy per sample and dimension, ‖X‖² / (n d)."""
    return float(np.sum(X**2) / X.size)


def least_squares_codes(Phi: np.ndarray, X: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(B, κ, n) least-squares codes on each support of `masks` (B, κ), zero outside it (one batched pinv)."""
    masked = np.asarray(Phi)[None, :, :] * np.asarray(masks, dtype=np.float64)[:, None, :]
    return np.linalg.pinv(masked) @ np.asarray(X)


def row_power(Phi: np.ndarray, X: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(B, κ) ‖u_j‖²/n of the least-squares code on each support: the variance a latent row j needs to fit X."""
    U = least_squares_codes(Phi, X, masks)
    return (U**2).sum(-1) / X.shape[1]
