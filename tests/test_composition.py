"""cnnlessons.analysis.composition and .memory: linear stacks collapse, ReLU stacks do not, and
what a stack keeps for the backward pass. The oracles are PyTorch's own layers and autograd."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlessons.analysis import LayerSpec, build_stack, conv_stack
from cnnlessons.analysis.composition import (additivity_gap, collapse_stack, compose_kernels, fit_composed_kernel,
                                             full_conv2d, kernel_family_rank, odd_part_gap)
from cnnlessons.analysis.memory import saved_activations

f64 = torch.float64


@pytest.mark.parametrize("kernels, channels", [((3, 3, 3), 1), ((3, 3, 3), 3), ((3, 5), 2), ((1, 3, 1), 4)])
def test_composed_kernel_equals_the_stack_without_padding(kernels, channels):
    torch.manual_seed(0)
    stack = nn.Sequential(*[nn.Conv2d(channels, channels, k, bias=False) for k in kernels]).double()
    one = collapse_stack(stack)
    assert one.kernel_size == (sum(k - 1 for k in kernels) + 1,) * 2
    x = torch.randn(2, channels, 17, 19, dtype=f64)
    with torch.no_grad():
        assert torch.allclose(one(x), stack(x), rtol=0, atol=1e-12)


def test_same_padding_agrees_away_from_the_border_only():
    torch.manual_seed(1)
    stack = conv_stack(3, 3, channels=2, activation=None).double()
    one = collapse_stack(stack)
    assert one.padding == (3, 3)
    x = torch.randn(1, 2, 20, 20, dtype=f64)
    with torch.no_grad():
        diff = (one(x) - stack(x)).abs()
    assert diff[..., 3:-3, 3:-3].max() < 1e-12
    assert diff.max() > 1e-3  # the stack's own zero padding truncates its border sums


def test_compose_kernels_with_different_channel_counts():
    torch.manual_seed(2)
    w1, w2 = torch.randn(5, 2, 3, 3, dtype=f64), torch.randn(4, 5, 3, 3, dtype=f64)
    x = torch.randn(1, 2, 12, 12, dtype=f64)
    k = compose_kernels([w1, w2])
    assert k.shape == (4, 2, 5, 5)
    expected = nn.functional.conv2d(nn.functional.conv2d(x, w1), w2)
    assert torch.allclose(nn.functional.conv2d(x, k), expected, atol=1e-12)
    with pytest.raises(ValueError, match="input channels"):
        compose_kernels([w2, w1])


def test_full_conv2d_batches_and_matches_compose_kernels():
    torch.manual_seed(3)
    a, b = torch.randn(6, 3, 3, dtype=f64), torch.randn(6, 2, 4, dtype=f64)
    out = full_conv2d(a, b)
    assert out.shape == (6, 4, 6)
    for i in range(6):
        assert torch.allclose(out[i], compose_kernels([a[i][None, None], b[i][None, None]])[0, 0], atol=1e-12)


@pytest.mark.parametrize("layer", [nn.ReLU(), nn.Conv2d(1, 1, 3, bias=True), nn.Conv2d(1, 1, 3, stride=2, bias=False),
                                   nn.Conv2d(1, 1, 3, dilation=2, bias=False)])
def test_only_linear_stride1_convs_collapse(layer):
    with pytest.raises(ValueError):
        collapse_stack(nn.Sequential(nn.Conv2d(1, 1, 3, bias=False), layer))


@pytest.mark.parametrize("kernels, channels, rank", [((3, 3, 3), 1, 25), ((3, 3, 3), 2, 100), ((3, 3), 1, 17),
                                                     ((7,), 1, 49), ((3, 3, 3, 3), 1, 33)])
def test_family_rank_is_the_weight_count_less_the_channel_symmetries(kernels, channels, rank):
    # sum(k^2) C^2 weights, less C^2 for the invertible channel mix at each inner interface
    assert rank == sum(k * k for k in kernels) * channels ** 2 - (len(kernels) - 1) * channels ** 2
    assert kernel_family_rank(kernels, channels) == rank


def test_fit_recovers_a_composed_kernel_and_misses_a_random_one():
    g = torch.Generator().manual_seed(4)
    made = full_conv2d(full_conv2d(*torch.randn(2, 3, 3, generator=g, dtype=f64)), torch.randn(3, 3, generator=g, dtype=f64))
    fit = fit_composed_kernel(made, restarts=20)
    assert fit.relative_error < 1e-8
    assert torch.allclose(full_conv2d(full_conv2d(*fit.factors[:2]), fit.factors[2]), made, atol=1e-8)
    assert fit_composed_kernel(torch.randn(7, 7, generator=g, dtype=f64), restarts=5).relative_error > 0.1
    with pytest.raises(ValueError, match="7x7"):
        fit_composed_kernel(torch.zeros(5, 5))


def test_odd_part_tells_one_layer_from_a_relu_stack():
    torch.manual_seed(5)
    x1, x2 = torch.randn(2, 1, 3, 12, 12, dtype=f64)
    one = nn.Sequential(nn.Conv2d(3, 3, 7, padding=3, bias=False), nn.ReLU()).double()
    stack = conv_stack(3, 3, channels=3).double()
    linear = conv_stack(3, 3, channels=3, activation=None).double()
    assert odd_part_gap(one, x1, x2) < 1e-12
    assert odd_part_gap(linear, x1, x2) < 1e-12 and additivity_gap(linear, x1, x2) < 1e-12
    assert additivity_gap(one, x1, x2) > 0.05  # a ReLU layer is not linear, but its odd part is
    assert odd_part_gap(stack, x1, x2) > 0.05


def test_saved_activations_count_the_maps_backward_needs():
    x = torch.randn(1, 4, 10, 10)
    three = saved_activations(conv_stack(3, 3, channels=4), x)
    seven = saved_activations(nn.Sequential(nn.Conv2d(4, 4, 7, padding=3, bias=False), nn.ReLU()), x)
    assert (three.tensors, three.elements, three.bytes) == (4, 4 * x.numel(), 4 * x.numel() * 4)
    assert (seven.tensors, seven.elements) == (2, 2 * x.numel())
    # A stack that strides keeps smaller maps after the stride.
    strided = saved_activations(build_stack([LayerSpec("conv", 3, stride=2), LayerSpec("conv", 3)], channels=4), x)
    assert strided.elements == x.numel() + 2 * 4 * 5 * 5
    # Without gradients anywhere (no parameters, no input gradient) nothing is saved.
    assert saved_activations(nn.MaxPool2d(2), x).tensors == 0
