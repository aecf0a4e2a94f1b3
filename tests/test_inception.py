"""The Inception module against its hand formulas and the cost counter; the calculator's logic."""
from __future__ import annotations

import pytest
import torch

from cnnlessons.analysis.cost import count
from cnnlessons.models import Inception, inception_module
from cnnlessons.models.inception import BRANCHES, branch_costs
from cnnlessons.widgets.inception_calculator import InceptionCalculator, calculate, render_html

CONFIGS = [(256, 128, 192, 96, None, 28), (256, 128, 192, 96, 64, 28), (17, 3, 5, 7, 2, 9), (480, 192, 208, 48, 16, 14)]


@pytest.mark.parametrize("c_in, c1, c3, c5, b, size", CONFIGS)
def test_shape_is_preserved_and_depth_adds_up(c_in, c1, c3, c5, b, size):
    module = inception_module(c_in, c1, c3, c5, bottleneck=b)
    out = module(torch.randn(2, c_in, size, size))
    assert out.shape == (2, c1 + c3 + c5 + (c_in if b is None else b), size, size)
    assert module.out_channels == out.shape[1] == branch_costs(c_in, c1, c3, c5, b, size).out_channels


@pytest.mark.parametrize("c_in, c1, c3, c5, b, size", CONFIGS)
def test_hand_formulas_equal_the_counter(c_in, c1, c3, c5, b, size):
    counted = count(inception_module(c_in, c1, c3, c5, bottleneck=b), (c_in, size, size))
    hand = branch_costs(c_in, c1, c3, c5, b, size)
    assert counted.macs == hand.macs and counted.params == hand.params
    per_branch = {name: counted.macs_by(f"branch{i + 1}") for i, name in enumerate(BRANCHES)}
    assert per_branch == hand.branch_macs()


def test_naive_pool_branch_is_the_input():
    module = inception_module(8, 2, 2, 2).eval()
    x = torch.randn(1, 8, 5, 5)
    pooled = torch.nn.functional.max_pool2d(x, 3, stride=1, padding=1)
    assert torch.equal(module(x)[:, -8:], pooled)


def test_paper_names_and_independent_reducers():
    module = Inception(192, 64, 96, 128, 16, 32, 32)  # GoogLeNet's inception (3a)
    assert module.out_channels == 256
    # 1x1; 3x3 reduce + 3x3; 5x5 reduce + 5x5; pool proj (the paper's Table 1 row 3a)
    hand = 28 * 28 * (64 * 192 + 96 * 192 + 128 * 9 * 96 + 16 * 192 + 32 * 25 * 16 + 32 * 192)
    assert count(module, (192, 28, 28)).macs == hand


@pytest.mark.parametrize("kwargs, name", [
    ({"bottleneck": 0}, "bottleneck"), ({"bottleneck": 2.5}, "bottleneck"), ({"c3x3": 0}, "ch3x3"),
])
def test_bad_widths_name_the_parameter(kwargs, name):
    args = {"in_channels": 8, "c1x1": 2, "c3x3": 2, "c5x5": 2, **kwargs}
    with pytest.raises(ValueError, match=name):
        inception_module(**args)


def test_branch_costs_validates():
    with pytest.raises(ValueError, match="size"):
        branch_costs(8, 2, 2, 2, size=0)


def test_calculator_logic():
    calc = calculate(256, 128, 192, 96, bottleneck=64, size=28)
    assert calc.chosen.macs == count(inception_module(256, 128, 192, 96, 64), (256, 28, 28)).macs
    assert calc.naive.macs == count(inception_module(256, 128, 192, 96), (256, 28, 28)).macs
    assert calculate(bottleneck=0).chosen == calculate(bottleneck=None).naive
    html = render_html(calc)
    assert f"<b>{calc.chosen.out_channels}</b>" in html and f"{calc.chosen.macs:,}" in html


def test_calculator_widget_updates():
    widget = InceptionCalculator(bottleneck=32)
    before = widget.output.value
    widget.sliders["bottleneck"].value = 0
    assert widget.output.value != before
    assert f"{calculate(bottleneck=None).naive.macs:,}" in widget.output.value
    with pytest.raises(ValueError, match="unknown calculator setting"):
        InceptionCalculator(filters=3)
