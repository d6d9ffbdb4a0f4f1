"""L2-regularised logistic regression, fitted by Newton's method: the local judge and relevance calibration.

Pure functions over numpy arrays. Features are standardised for the fit and the weights folded back, so that
scoring needs no standardising: `sigmoid(x @ weights + bias)`. Newton's method is deterministic and converges
in a few dozen steps where plain gradient descent underfits small components (e5's, for one).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
STEPS = 30


def sigmoid(z: Floats) -> Floats:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def fit(
    x: npt.NDArray[np.floating], labels: npt.NDArray[np.bool_], l2: float, *, steps: int = STEPS
) -> tuple[Floats, float]:
    """The weights and bias minimising the log loss plus `l2` times the squared weights (on standardised
    features; the bias is not penalised)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    penalty = l2 * np.eye(z.shape[1])
    penalty[-1, -1] = 0.0
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = sigmoid(z @ w)
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        w -= np.linalg.solve(hessian, z.T @ (p - labels) + penalty @ w)
    weights = w[:-1] / scale
    return weights, float(w[-1] - weights @ mean)
