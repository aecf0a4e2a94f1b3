"""The linear probe: multinomial logistic regression on frozen features, fitted to its optimum.

With features ``f_i`` (one row per image) standardised by the training set's mean and standard
deviation, ``z_i = (f_i - mu) / sigma``, the probe's logits are ``W z_i + b`` and its weights
minimise the L2-penalised cross-entropy

    J(W, b) = (1/N) sum_i -log softmax(W z_i + b)[y_i]  +  (lambda / 2) ||W||^2

(the bias is not penalised), whose gradient is, with ``P`` the softmax probabilities and ``Y`` the
one-hot labels, ``dJ/dW = (P - Y)^T Z / N + lambda W`` and ``dJ/db = (P - Y)^T 1 / N``.

``J`` is convex, and strictly convex in ``W`` for ``lambda > 0``, so it has one minimum ``J*``.
L-BFGS (a quasi-Newton method, as Kornblith, Shlens and Le 2019 use; SciPy's) finds it in float64.
The probe is **optimal** when it is provably within ``OPTIMALITY_GAP`` of ``J*``: ``J`` is
``lambda``-strongly convex in ``W`` (and the cross-entropy is convex in ``b``), which bounds the gap
by the gradient, ``J - J* <= |grad J|^2 / (2 lambda)`` for the bias-free part; the probe is fitted
to its optimum, not stopped after some number of steps. ``fit_probes`` fits every ``lambda`` of a grid,
strongest first, each starting from the previous optimum (a *regularisation path*, as glmnet and
scikit-learn do); the minimum is unique, so the start changes only how long it takes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits
from torch import nn

#: The L2 penalties a probe chooses from on the validation split (decades, 1e-6 to 10).
L2_GRID: tuple[float, ...] = tuple(10.0 ** k for k in range(-6, 2))
#: A probe is optimal when its objective is provably within this of the minimum (see the module docstring).
OPTIMALITY_GAP = 1e-6
#: L-BFGS also runs until no gradient entry exceeds this: under a strong penalty the gap bound alone
#: would stop it with the weights still ``|grad J| / lambda`` (up to ~3e-4) from the minimiser.
GRADIENT_TOL = 1e-6


class Probe(nn.Module):
    """A linear classifier on standardised features: ``logits = W (f - mu) / sigma + b``.

    ``mu`` and ``sigma`` are buffers (the training features' mean and standard deviation, never
    trained). It takes the pooled features a ResNet hands its ``fc``, so a fitted probe can
    become that network's classifier as it is (``finetune.with_probe_head``).
    """

    def __init__(self, features: torch.Tensor, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mu", features.mean(0))
        self.register_buffer("sigma", features.std(0, unbiased=False) + 1e-6)
        self.linear = nn.Linear(features.shape[1], num_classes)

    def standardise(self, f: torch.Tensor) -> torch.Tensor:
        return (f - self.mu) / self.sigma

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.linear(self.standardise(f))


@dataclass(frozen=True)
class ProbeFit:
    """A fitted probe and how its fit ended: ``J`` at the end, the norm of its gradient, the L-BFGS
    iterations and the error on its own training features."""

    probe: Probe
    l2: float
    objective: float
    gradient: float
    iterations: int
    train_error: float

    @property
    def gap(self) -> float:
        """The bound on ``J - J*`` from strong convexity: ``|grad J|^2 / (2 lambda)``."""
        return self.gradient ** 2 / (2 * self.l2)

    @property
    def optimal(self) -> bool:
        """Whether the fit is within ``OPTIMALITY_GAP`` of the minimum of ``J``."""
        return self.gap <= OPTIMALITY_GAP


def _objective(theta: np.ndarray, z: np.ndarray, onehot: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    """``J`` and its gradient at ``theta`` (``W`` then ``b``, flattened), as the module docstring writes them."""
    k, d = onehot.shape[1], z.shape[1]
    w, b = theta[:k * d].reshape(k, d), theta[k * d:]
    logits = z @ w.T + b
    logits -= logits.max(1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    n = len(z)
    g = (np.exp(log_p) - onehot) / n
    value = -(onehot * log_p).sum() / n + l2 / 2 * (w * w).sum()
    return value, np.concatenate([(g.T @ z + l2 * w).ravel(), g.sum(0)])


def fit_probes(features: torch.Tensor, y: torch.Tensor, num_classes: int,
               l2_grid: Sequence[float] = L2_GRID) -> list[ProbeFit]:
    """A ``Probe`` fitted to ``features`` (N, C) and labels ``y`` for every ``lambda`` of ``l2_grid``
    (returned in the grid's order), each to the minimum of ``J`` by L-BFGS.

    Deterministic: the first fit (the strongest penalty) starts from zero weights, each next one
    from the previous optimum."""
    if len(features) != len(y):
        raise ValueError(f"{len(features)} feature rows but {len(y)} labels")
    if not l2_grid or min(l2_grid) <= 0:
        raise ValueError(f"every l2 must be positive (J then has one minimum); got {tuple(l2_grid)}")
    z = Probe(features, num_classes).standardise(features).double().numpy()
    onehot = np.eye(num_classes)[y.long().numpy()]
    theta = np.zeros(num_classes * (z.shape[1] + 1))
    fits: dict[float, ProbeFit] = {}
    with threadpool_limits(limits=1):  # small matrices: one BLAS thread is fastest, on a busy machine by far
        for l2 in sorted(set(l2_grid), reverse=True):
            # stop once the largest gradient entry g_max gives |grad J|^2 <= size * g_max^2 <= 2 lambda gap
            # (and g_max <= GRADIENT_TOL)
            gtol = min((2 * l2 * OPTIMALITY_GAP / theta.size) ** 0.5, GRADIENT_TOL)
            found = minimize(_objective, theta, args=(z, onehot, l2), jac=True, method="L-BFGS-B",
                             options={"maxiter": 50_000, "maxcor": 20, "gtol": gtol, "ftol": 0.0})
            theta = found.x
            fits[l2] = _probe_at(theta, features, z, onehot, l2, int(found.nit))
    return [fits[l2] for l2 in l2_grid]


def _probe_at(theta: np.ndarray, features: torch.Tensor, z: np.ndarray, onehot: np.ndarray, l2: float,
              iterations: int) -> ProbeFit:
    """The ``ProbeFit`` of weights ``theta`` (``W`` then ``b``, flattened)."""
    value, grad = _objective(theta, z, onehot, l2)
    k, d = onehot.shape[1], z.shape[1]
    w, b = theta[:k * d].reshape(k, d), theta[k * d:]
    probe = Probe(features, k)
    with torch.no_grad():
        probe.linear.weight.copy_(torch.from_numpy(w))
        probe.linear.bias.copy_(torch.from_numpy(b))
    wrong = float(((z @ w.T + b).argmax(1) != onehot.argmax(1)).mean())
    return ProbeFit(probe, l2, float(value), float(np.linalg.norm(grad)), iterations, wrong)


def fit_probe(features: torch.Tensor, y: torch.Tensor, num_classes: int, *, l2: float) -> ProbeFit:
    """One ``Probe`` fitted to the minimum of ``J`` with penalty ``l2`` (see ``fit_probes``)."""
    return fit_probes(features, y, num_classes, (l2,))[0]
