"""Effective receptive fields and impulse (dependency) maps: which input pixels really
move one output unit, measured rather than computed.

Effective receptive field (Luo, Li, Urtasun, Zemel, "Understanding the Effective
Receptive Field in Deep Convolutional Neural Networks", NeurIPS 2016): set the gradient of
one output unit to 1, all others to 0, back-propagate to the input and look at the
magnitude map ``|d y_unit / d x|``. For ``n`` stacked uniform linear ``k``-kernels it is the
n-fold convolution of a box, whose variance per axis is exactly ``n (k^2 - 1) / 12``: the
width grows like ``sqrt(n)`` while the theoretical field ``r = n (k - 1) + 1`` grows like ``n``.

The support of the map (``support_box``) is the theoretical field clipped to the image;
``dependency_maps`` finds it exactly with impulses instead of gradients.
"""
from __future__ import annotations

import copy
import math
from typing import Literal, Sequence

import torch
from torch import nn

from .fields import ReceptiveField, ReceptiveFieldError, check_input_size

__all__ = ["centre_unit", "dependency_map", "dependency_maps", "effective_receptive_field", "erf_std",
           "support_box"]

def _centre_unit(out: torch.Tensor, unit: tuple[int, int] | None) -> tuple[int, int]:
    if out.dim() != 4:
        raise ReceptiveFieldError(f"the model's output has shape {tuple(out.shape)}; an (N, C, H, W) feature map "
                                  "is needed (pass the convolutional part, e.g. model.features)")
    h, w = out.shape[-2:]
    row, col = unit if unit is not None else (h // 2, w // 2)
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"unit must index the {h}x{w} output map; got {unit!r}")
    return row, col


def _uniform_(model: nn.Module) -> None:
    """Every conv averages its window (weights 1/fan_in, no bias); BN becomes the identity."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            nn.init.constant_(m.weight, 1.0 / fan_in)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()


def _reinit_(model: nn.Module) -> None:
    for m in model.modules():
        if hasattr(m, "reset_parameters") and m is not model:
            m.reset_parameters()


def effective_receptive_field(model: nn.Module, input_size: Sequence[int] = (1, 64, 64), *,
                              weights: Literal["random", "uniform", "as_is"] = "random", n_inputs: int = 1,
                              n_inits: int = 1, unit: tuple[int, int] | None = None, seed: int = 0,
                              device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Luo et al.'s effective receptive field: ``|d y_unit / d x|`` as an ``(H, W)`` map.

    The gradient of one output position (default: the centre; all its channels) is set to
    1, every other to 0, and back-propagated to the input; the magnitude is summed over
    input channels and averaged over ``n_inputs`` standard-normal inputs and ``n_inits``
    initialisations. ``weights``: ``"random"`` re-initialises a copy with PyTorch's
    default init (seeded), ``"uniform"`` makes every conv average its window (the box
    kernels of Luo et al.'s analysis; pair it with a linear model), ``"as_is"`` keeps the
    model's weights (e.g. trained ones). The model is copied and put in eval mode; the
    caller's model is not changed.
    """
    c, h, w = check_input_size(input_size)
    if weights not in ("random", "uniform", "as_is"):
        raise ValueError(f"weights must be one of 'random', 'uniform', 'as_is'; got {weights!r}")
    for name, value in (("n_inputs", n_inputs), ("n_inits", n_inits)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    device = torch.device(device)
    total = torch.zeros(h, w, dtype=dtype, device=device)
    n_inits = 1 if weights != "random" else n_inits
    with torch.random.fork_rng(devices=[]):
        for i in range(n_inits):
            torch.manual_seed(seed + i)
            net = copy.deepcopy(model).to(device=device, dtype=dtype).eval()
            if weights == "random":
                _reinit_(net)
            elif weights == "uniform":
                _uniform_(net)
            x = torch.randn(n_inputs, c, h, w, dtype=dtype, device=device).requires_grad_(True)
            out = net(x)
            row, col = _centre_unit(out, unit)
            grad_out = torch.zeros_like(out)
            grad_out[:, :, row, col] = 1.0
            (grad,) = torch.autograd.grad(out, x, grad_out)
            total += grad.abs().sum(dim=1).mean(dim=0)
    return (total / n_inits).detach()


def erf_std(erf: torch.Tensor) -> tuple[float, float]:
    """Standard deviation (in pixels) of the ERF along rows and columns: the map, normalised
    to sum to 1, is read as a distribution and its two marginals' spreads are returned."""
    if erf.dim() != 2 or float(erf.sum()) <= 0:
        raise ValueError("erf must be a non-negative 2-D map with a positive sum")
    p = (erf / erf.sum()).double()
    out = []
    for marginal in (p.sum(dim=1), p.sum(dim=0)):
        pos = torch.arange(marginal.numel(), dtype=torch.float64)
        mean = (marginal * pos).sum()
        out.append(math.sqrt(float((marginal * (pos - mean) ** 2).sum())))
    return out[0], out[1]


def dependency_maps(model: nn.Module, input_size: Sequence[int] = (1, 32, 32), *, batch: int = 1024) -> torch.Tensor:
    """Which input pixels can change each output unit: a bool ``(out_h, out_w, H, W)`` tensor.

    Exact for stacks of convolutions, max/avg pooling, BN and ReLU: a copy of the model gets
    all-ones weights and identity BN, so every path is non-negative; each input pixel is
    switched on alone (an impulse, all channels) and every output unit is read. Unlike a
    gradient it also sees through max pooling. The bounding box of a unit's map is its
    theoretical field clipped to the image; dilation and strides can leave holes inside it.
    """
    c, h, w = check_input_size(input_size)
    net = copy.deepcopy(model).float().cpu().eval()
    responses = []
    with torch.no_grad():
        _uniform_(net)
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.fill_(1.0)
        for start in range(0, h * w, batch):
            idx = torch.arange(start, min(start + batch, h * w))
            x = torch.zeros(len(idx), c, h * w)
            x[torch.arange(len(idx)), :, idx] = 1.0
            out = net(x.view(len(idx), c, h, w))
            _centre_unit(out, None)  # checks that the output is a feature map
            responses.append(out.sum(dim=1) > 0)
    seen = torch.cat(responses)  # (H*W, out_h, out_w)
    return seen.permute(1, 2, 0).reshape(seen.shape[1], seen.shape[2], h, w)


def dependency_map(model: nn.Module, input_size: Sequence[int] = (1, 32, 32), *,
                   unit: tuple[int, int] | None = None) -> torch.Tensor:
    """Which input pixels can change output unit ``unit`` (default: the centre): a bool
    ``(H, W)`` map; see ``dependency_maps``."""
    maps = dependency_maps(model, input_size)
    out_h, out_w = maps.shape[:2]
    row, col = unit if unit is not None else (out_h // 2, out_w // 2)
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise ValueError(f"unit must index the {out_h}x{out_w} output map; got {unit!r}")
    return maps[row, col]


def centre_unit(rf: ReceptiveField) -> tuple[int, int]:
    """The output unit whose field centre ``u j - P + (r - 1)/2`` is nearest the image centre."""
    unit = []
    for a in range(2):
        u = round(((rf.input_size[a] - 1) / 2 + rf.padding_hw[a] - (rf.size_hw[a] - 1) / 2) / rf.stride_hw[a])
        unit.append(min(max(u, 0), rf.map_size[a] - 1))
    return unit[0], unit[1]


def support_box(values: torch.Tensor) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` (inclusive) of the non-zero entries of a 2-D map."""
    mask = values != 0
    if mask.dim() != 2 or not bool(mask.any()):
        raise ValueError("values must be a 2-D map with at least one non-zero entry")
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])
