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


# --------------------------------------------------------------------------- the paper's GoogLeNet

def test_paper_googlenet_has_table1_widths_shapes_and_depth():
    import torchvision

    from cnnlessons.analysis.breakdown import stage_shapes
    from cnnlessons.models.inception import GOOGLENET_TABLE1, googlenet_paper

    with torch.device("meta"):
        paper = googlenet_paper().eval()
        tv = torchvision.models.googlenet(aux_logits=False, init_weights=False).eval()
    # Same widths as torchvision's (which differs in kernel size and batch norm, not widths).
    for name, (c_in, c1, c3r, c3, c5r, c5, pool) in GOOGLENET_TABLE1.items():
        ours, theirs = getattr(paper, f"inception{name}"), getattr(tv, f"inception{name}")
        assert ours.branch2[1][0].kernel_size == (3, 3) and ours.branch3[1][0].kernel_size == (5, 5)
        assert ours.branch1[0].in_channels == c_in == theirs.branch1.conv.in_channels
        assert [ours.branch2[0][0].out_channels, ours.branch3[0][0].out_channels, ours.branch4[1][0].out_channels] == \
            [theirs.branch2[0].conv.out_channels, theirs.branch3[0].conv.out_channels, theirs.branch4[1].conv.out_channels]
        assert ours.out_channels == c1 + c3 + c5 + pool
    shapes = {s.name: s.output_shape for s in stage_shapes(paper, (3, 224, 224))}
    # Table 1's "output size" column
    assert shapes["conv1"] == (64, 112, 112) and shapes["pool1"] == (64, 56, 56) and shapes["conv2"] == (192, 56, 56)
    assert shapes["inception3b"] == (480, 28, 28) and shapes["pool3"] == (480, 14, 14)
    assert shapes["inception4e"] == (832, 14, 14) and shapes["pool4"] == (832, 7, 7)
    assert shapes["inception5b"] == (1024, 7, 7) and shapes["avgpool"] == (1024, 1, 1) and shapes["fc"] == (1000,)
    cost = count(paper, 224)
    assert cost.depth == 22  # "22 layers deep when counting only layers with parameters"
    # 3a by hand: the rows of Table 1 count weights in units of 1,024 (159K)
    weights_3a = sum(p.numel() for n, p in paper.inception3a.named_parameters() if n.endswith("weight"))
    assert weights_3a == 163_328 and weights_3a // 1024 == 159
    assert cost.macs_by("inception3a") == 128_049_152  # Table 1: 128M


def test_auxiliary_heads_run_in_training_only():
    from cnnlessons.models.inception import googlenet_paper

    torch.manual_seed(0)
    net = googlenet_paper(num_classes=10, aux_logits=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        logits, aux1, aux2 = net.train()(x)
        assert logits.shape == aux1.shape == aux2.shape == (2, 10)
        assert net.eval()(x).shape == (2, 10)
    heads = sum(p.numel() for p in net.aux1.parameters()) + sum(p.numel() for p in net.aux2.parameters())
    # per head: 1x1 conv 512 (528) -> 128, fc 2048 -> 1024, fc 1024 -> 10
    assert heads == sum(c * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 10 + 10 for c in (512, 528))


def test_parameters_by_and_stage_table():
    import torchvision

    from cnnlessons.analysis.breakdown import parameters_by, stage_shapes, stage_table

    with torch.device("meta"):
        vgg = torchvision.models.vgg16()
    parts = parameters_by(vgg, {"fc6": "classifier.0", "fc7": "classifier.3", "fc8": "classifier.6",
                                "convs": "features", "all": ""})
    assert parts["fc6"] == 512 * 7 * 7 * 4096 + 4096 and parts["fc8"] == 4096 * 1000 + 1000
    assert parts["fc6"] + parts["fc7"] + parts["fc8"] + parts["convs"] == parts["all"] == 138_357_544
    with pytest.raises(KeyError, match="classifier.9"):
        parameters_by(vgg, {"x": "classifier.9"})
    stages = stage_shapes(inception_module(8, 2, 2, 2).eval(), (8, 5, 5))
    assert [s.name for s in stages] == ["branch1", "branch2", "branch3", "branch4"]
    assert stages[3].output_shape == (8, 5, 5) and stages[3].macs == 0
    table = stage_table(stages, caption="naive")
    assert table.rows[-1][0] == "total" and table.rows[-1][3] == f"{sum(s.params for s in stages):,}"


def test_layer_names_follow_table1_and_label_the_diagram():
    from cnnlessons.analysis import diagram
    from cnnlessons.models.inception import googlenet_paper, layer_names

    module = Inception(192, 64, 96, 128, 16, 32, 32)  # (3a)
    names = layer_names(module)
    assert names == {"branch1.0": "1x1, 64", "branch2.0.0": "1x1 reduce, 96", "branch2.1.0": "3x3, 128",
                     "branch3.0.0": "1x1 reduce, 16", "branch3.1.0": "5x5, 32",
                     "branch4.0": "max pool 3x3/1, pad 1", "branch4.1.0": "1x1 pool proj, 32"}
    assert layer_names(inception_module(8, 2, 3, 4))["branch4.0"] == "max pool 3x3/1, pad 1"
    # every name of a whole network carries the module's path
    net = layer_names(googlenet_paper())
    assert net["inception4e.branch3.1.0"] == "5x5, 128" and len(net) == 9 * 7
    drawn = diagram(module, (192, 28, 28), depth=3, labels=names)
    assert "<b>1x1 reduce, 96</b>" in drawn.source and "branch2.0.0-1" not in drawn.source
    with pytest.raises(ValueError, match="branch9"):
        diagram(module, (192, 28, 28), depth=3, labels={"branch9": "no such layer"})
