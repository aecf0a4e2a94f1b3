"""Why stacked 3x3 convolutions need their ReLUs: without them a stack collapses into one
convolution, and only into a thin family of them.

PyTorch's ``conv2d`` is a cross-correlation, ``y[o, p] = sum_{i, u} W[o, i, u] x[i, p + u]``
(``p``, ``u`` 2-D positions). Two such layers in a row, ``W1`` then ``W2``, give::

    z[o, p] = sum_{m, v} W2[o, m, v] y[m, p + v] = sum_{i, t} K[o, i, t] x[i, p + t],
    K[o, i, t] = sum_m sum_{u + v = t} W2[o, m, v] W1[m, i, u]

a single kernel of size ``k1 + k2 - 1``: the *full* convolution of the two kernels, summed
over the middle channels (``compose_kernels``). So three 3x3 layers without activations
are exactly one 7x7 layer (``collapse_stack``), and the map ``(W1, W2, W3) -> K`` is a
polynomial from ``27 C^2`` numbers to ``49 C^2``: its image has dimension at most
``27 C^2`` (``kernel_family_rank`` computes it: ``25 C^2``, because ``W1 -> A W1``,
``W2 -> W2 A^-1`` for any invertible channel mix ``A`` changes nothing, at each of the two
inner interfaces). Almost every 7x7 filter is therefore out of reach; for ``C = 1``
``fit_composed_kernel`` shows it by least squares.

With a ReLU after each layer the stack is no longer linear. Without biases, any *single*
convolution followed by a ReLU (or not) has a linear odd part,
``f(x) - f(-x) = conv(x)`` (because ``relu(a) - relu(-a) = a``); ``odd_part_gap`` measures
how far a model's odd part is from additive, so a non-zero gap is a counterexample to any
collapse into one layer.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["KernelFit", "additivity_gap", "collapse_stack", "compose_kernels", "fit_composed_kernel",
           "full_conv2d", "kernel_family_rank", "odd_part_gap"]


def compose_kernels(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """One kernel equal to a stack of stride-1, undilated, bias-free convolutions.

    ``weights`` are the layers' ``(C_out, C_in, k, k)`` weights in forward order; the result
    has shape ``(C_out_last, C_in_first, sum(k - 1) + 1, ...)`` (see the module docstring).
    """
    if not weights:
        raise ValueError("weights must hold at least one kernel")
    kernel = weights[0]
    for w in weights[1:]:
        if w.shape[1] != kernel.shape[0]:
            raise ValueError(f"a layer with {w.shape[1]} input channels follows one with {kernel.shape[0]} outputs")
        kh, kw = w.shape[-2:]
        # Treat the running kernel's input channels as a batch and its output channels as the
        # image's channels; correlating with the flipped w over a zero border is the full
        # convolution of the two kernels, summed over the middle channels.
        full = F.conv2d(F.pad(kernel.transpose(0, 1), (kw - 1, kw - 1, kh - 1, kh - 1)), w.flip(-2, -1))
        kernel = full.transpose(0, 1)
    return kernel


def collapse_stack(stack: nn.Sequential) -> nn.Conv2d:
    """The single ``nn.Conv2d`` that computes what a stack of linear convolutions computes.

    Every layer must be an ``nn.Conv2d`` with stride 1, dilation 1, one group and no bias
    (anything else, a ReLU above all, cannot be folded in: ``ValueError``). The result's
    padding is the sum of the layers' paddings: with no padding it equals the stack exactly;
    with "same" padding the two agree except within ``r // 2`` pixels of the border, where
    the stack's intermediate zero padding cuts its sums short.
    """
    weights, padding = [], 0
    for name, layer in stack.named_children():
        if not isinstance(layer, nn.Conv2d):
            raise ValueError(f"layer {name!r} is a {type(layer).__name__}: only linear convolutions collapse into one")
        if layer.stride != (1, 1) or layer.dilation != (1, 1) or layer.groups != 1 or layer.bias is not None:
            raise ValueError(f"layer {name!r} must have stride 1, dilation 1, one group and no bias")
        if layer.padding[0] != layer.padding[1] or not isinstance(layer.padding[0], int):
            raise ValueError(f"layer {name!r} must have the same integer padding on both axes")
        weights.append(layer.weight.detach())
        padding += layer.padding[0]
    if not weights:
        raise ValueError("the stack has no layers")
    kernel = compose_kernels(weights)
    out = nn.Conv2d(kernel.shape[1], kernel.shape[0], tuple(kernel.shape[-2:]), padding=padding, bias=False,
                    device=kernel.device, dtype=kernel.dtype)
    with torch.no_grad():
        out.weight.copy_(kernel)
    return out


def full_conv2d(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The full 2-D convolution of single-channel kernels over their last two axes,
    ``out[t] = sum_{u + v = t} a[u] b[v]`` (leading axes broadcast): ``(..., ha, wa)`` and
    ``(..., hb, wb)`` give ``(..., ha + hb - 1, wa + wb - 1)``. For one channel this is
    ``compose_kernels``; the leading axes compose many stacks at once."""
    (ha, wa), (hb, wb) = a.shape[-2:], b.shape[-2:]
    lead = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = a.new_zeros(*lead, ha + hb - 1, wa + wb - 1)
    for i in range(hb):
        for j in range(wb):
            out[..., i:i + ha, j:j + wa] += a * b[..., i:i + 1, j:j + 1]
    return out


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run tiny tensor operations on one thread: on a busy machine, splitting 49x27 products
    over several threads makes them tens of times slower, not faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _split(p: torch.Tensor, kernels: Sequence[int], channels: int) -> list[torch.Tensor]:
    out, start = [], 0
    for k in kernels:
        n = channels * channels * k * k
        out.append(p[start:start + n].view(channels, channels, k, k))
        start += n
    return out


def kernel_family_rank(kernels: Sequence[int] = (3, 3, 3), channels: int = 1, seed: int = 0) -> int:
    """The dimension of the set of kernels a linear stack of ``kernels`` (sizes, C to C
    channels) can express: the rank of the Jacobian of ``weights -> compose_kernels`` at a
    random point (float64), which is the generic rank of that polynomial map.

    At most the number of weights ``sum(k^2) C^2``, and ``(len(kernels) - 1) C^2`` less
    because of the channel-mixing symmetry at each inner interface: 25 C^2 for three 3x3
    layers, against 49 C^2 entries of a 7x7 kernel.
    """
    if not kernels or any(not isinstance(k, int) or k < 1 for k in kernels):
        raise ValueError(f"kernels must be positive kernel sizes; got {kernels!r}")
    n = sum(channels * channels * k * k for k in kernels)
    g = torch.Generator().manual_seed(seed)
    point = torch.randn(n, generator=g, dtype=torch.float64)

    def compose(p: torch.Tensor) -> torch.Tensor:
        return compose_kernels(_split(p, kernels, channels)).flatten()

    with _one_thread():
        jacobian = torch.autograd.functional.jacobian(compose, point, vectorize=True)
        return int(torch.linalg.matrix_rank(jacobian))


@dataclass(frozen=True)
class KernelFit:
    """The best least-squares fit of a target kernel by a composed one."""

    relative_error: float                 # ||K - target|| / ||target||
    kernel: torch.Tensor                  # the best composed kernel found, (k, k)
    factors: tuple[torch.Tensor, ...]     # its layers' kernels, forward order
    restarts: int                         # random starts tried


def _design(other: torch.Tensor, k: int) -> torch.Tensor:
    """The matrix ``M`` with ``full_conv2d(other, w).flatten() == M @ w.flatten()`` for a k x k ``w``."""
    basis = torch.eye(k * k, dtype=other.dtype).view(k * k, 1, k, k)
    full = F.conv2d(F.pad(other[None, None], (k - 1,) * 4), basis.flip(-2, -1))  # (1, k*k, H, W)
    return full.reshape(k * k, -1).T


def _full_conv(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``full_conv2d`` of two 2-D kernels as one ``conv2d`` call (faster for a single pair)."""
    return compose_kernels([a[None, None], b[None, None]])[0, 0]


def fit_composed_kernel(target: torch.Tensor, kernels: Sequence[int] = (3, 3, 3), *, restarts: int = 40,
                        iterations: int = 100, seed: int = 0, tol: float = 1e-9) -> KernelFit:
    """Fit a single-channel ``target`` kernel as the composition of ``kernels`` (sizes) by
    least squares: Levenberg-Marquardt on all factors at once (the composition is linear in
    each factor, so the Jacobian's blocks are ``_design`` matrices), from ``restarts``
    random starts (float64), stopping early once the relative error is below ``tol``.

    A target made by composing such kernels is recovered to rounding error; a random target
    is not, whatever the start (it lies off the family, see ``kernel_family_rank``).
    """
    with _one_thread():
        return _fit(target.detach().cpu().to(torch.float64), tuple(kernels), restarts, iterations, seed, tol)


def _fit(target: torch.Tensor, kernels: tuple[int, ...], restarts: int, iterations: int, seed: int,
         tol: float) -> KernelFit:
    size = sum(k - 1 for k in kernels) + 1
    if target.shape != (size, size):
        raise ValueError(f"target must be {size}x{size} for kernels {tuple(kernels)}; got {tuple(target.shape)}")
    t = target.flatten()
    g = torch.Generator().manual_seed(seed)

    def residual(ws: list[torch.Tensor]) -> torch.Tensor:
        k = ws[0]
        for w in ws[1:]:
            k = _full_conv(k, w)
        return k.flatten() - t

    def jacobian(ws: list[torch.Tensor]) -> torch.Tensor:
        blocks = []
        for i, w in enumerate(ws):
            others = [x for j, x in enumerate(ws) if j != i]
            rest = others[0]
            for x in others[1:]:
                rest = _full_conv(rest, x)
            blocks.append(_design(rest, w.shape[-1]) if others else torch.eye(t.numel(), dtype=t.dtype))
        return torch.cat(blocks, dim=1)

    best: KernelFit | None = None
    tried = 0
    for _ in range(restarts):
        tried += 1
        ws = [torch.randn(k, k, generator=g, dtype=torch.float64) for k in kernels]
        res = residual(ws)
        loss, damping = float(res @ res), 1e-3
        for _ in range(iterations):
            jac = jacobian(ws)
            a, grad = jac.T @ jac, jac.T @ res
            while damping < 1e12:
                step = torch.linalg.solve(a + damping * torch.diag(torch.diag(a)) + 1e-12 * torch.eye(len(a), dtype=a.dtype),
                                          -grad)
                trial, start = [], 0
                for w in ws:
                    trial.append(w + step[start:start + w.numel()].view_as(w))
                    start += w.numel()
                new_res = residual(trial)
                new_loss = float(new_res @ new_res)
                if new_loss < loss:
                    ws, res, loss, damping = trial, new_res, new_loss, max(damping / 3, 1e-12)
                    break
                damping *= 4
            else:
                break
        error = loss ** 0.5 / float(t.norm())
        if best is None or error < best.relative_error:
            best = KernelFit(error, (res + t).view(size, size), tuple(ws), tried)
        if best.relative_error < tol:
            break
    assert best is not None
    return KernelFit(best.relative_error, best.kernel, best.factors, tried)


def additivity_gap(f: Callable[[torch.Tensor], torch.Tensor], x1: torch.Tensor, x2: torch.Tensor) -> float:
    """``max |f(x1 + x2) - f(x1) - f(x2)| / max |f(x1 + x2)|``: 0 (to rounding) for a linear ``f``."""
    with torch.no_grad():
        total = f(x1 + x2)
        return float((total - f(x1) - f(x2)).abs().max() / total.abs().max())


def odd_part_gap(f: Callable[[torch.Tensor], torch.Tensor], x1: torch.Tensor, x2: torch.Tensor) -> float:
    """The ``additivity_gap`` of the odd part ``f(x) - f(-x)``. For one bias-free convolution,
    with or without a ReLU after it, the odd part is the convolution itself: the gap is 0 (to
    rounding). A non-zero gap proves that no such single layer computes ``f``."""
    return additivity_gap(lambda x: f(x) - f(-x), x1, x2)
