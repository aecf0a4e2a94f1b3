"""The whole torchvision zoo: receptive fields and costs for every classification model.

The slow test walks ``torchvision.models.list_models(module=torchvision.models)``, measuring
each model as a user has it (real CPU tensors, eval mode; ``zoo_row``): every CNN gets a field
at its last feature map, every model a multiply-add count within 1% of the published ``_ops``
(beyond its rounding to 3 decimals) and exactly the published parameters; and the table the
course ships (``cnnlessons/experiments/zoo_table.json``, lesson 06) must equal the live
measurement. The smallest model of each family is also built exactly as a user builds it
(``torchvision.models.get_model``, random initialisation included) and counted.

The quick tests check the computed fields against real gradients on small members of each
family (same torchvision classes, fewer blocks and channels): with uniform positive weights,
positive inputs, max pooling replaced by average pooling (same windows; gradients of a max
only reach the argmax) and squeeze-and-excitation gates detached (they see the whole image,
which ``receptive_field`` ignores by convention), the input pixels that move one output unit
fill exactly the field's region.
"""
from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import convnext, densenet, efficientnet, mobilenetv3, regnet, resnet, shufflenetv2
from torchvision.ops import SqueezeExcitation

from dataclasses import asdict, fields

from cnnlessons.analysis import centre_unit, count, feature_extractor, receptive_field
from cnnlessons.experiments.architectures import (TRANSFORMER_FAMILIES, ZooRow, build_zoo_model, family, zoo_names,
                                                  zoo_row)
from cnnlessons.experiments.zoo_table import cached_zoo, load_table, table_matches_torchvision

NAMES = zoo_names()


@pytest.fixture(scope="module")
def table() -> dict:
    return load_table()  # a missing table fails here, naming make zoo-table


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_zoo_model_is_measured_and_the_shipped_table_agrees(name, table):
    row = zoo_row(name)
    assert row.params == row.published_params
    assert row.cost_error_beyond_rounding < 0.01, (row.gmacs, row.published_gmacs)
    if family(name) in TRANSFORMER_FAMILIES:
        assert row.receptive_field is None
    else:
        assert row.receptive_field is not None and row.receptive_field > 0
    assert table["rows"].get(name) == asdict(row), (
        f"the shipped zoo table (torchvision {table['torchvision']}) differs from {name} measured now "
        f"(torchvision {torchvision.__version__}): make zoo-table")


def test_the_shipped_table_is_this_torchvisions_whole_zoo(table):
    """The table lesson 06's demo preset reads (``cached_zoo``) exists, was made by its command with
    this torchvision release, and has every field of every model this torchvision lists. On another
    torchvision this fails (``cached_zoo`` refuses such a table): re-make it with make zoo-table."""
    assert table["command"] == "python -m cnnlessons.experiments.zoo_table"
    assert table_matches_torchvision(table), (f"the shipped zoo table was measured with torchvision "
                                              f"{table['torchvision']}, this is {torchvision.__version__}: "
                                              "make zoo-table")
    assert sorted(table["rows"]) == sorted(NAMES)
    assert all(set(row) == {f.name for f in fields(ZooRow)} for row in table["rows"].values())
    assert [r.name for r in cached_zoo()] == NAMES


def _smallest_of_each_family() -> list[str]:
    smallest: dict[str, tuple[int, str]] = {}
    for name in NAMES:
        params = torchvision.models.get_model_weights(name).DEFAULT.meta["num_params"]
        smallest[family(name)] = min(smallest.get(family(name), (params, name)), (params, name))
    return sorted(name for _, name in smallest.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", _smallest_of_each_family())
def test_a_user_built_model_is_counted_right(name):
    weights = torchvision.models.get_model_weights(name).DEFAULT
    size = int(weights.transforms().crop_size[0])
    torch.manual_seed(0)
    model = build_zoo_model(name, device="cpu", image_size=size)   # get_model(name, weights=None), .eval()
    cost = count(model, size)
    assert cost.params == weights.meta["num_params"]
    assert max(0.0, abs(cost.macs / 1e9 - weights.meta["_ops"]) - 0.0005) / weights.meta["_ops"] < 0.01


def test_the_zoo_lists_cnns_and_transformers():
    families = {family(n) for n in NAMES}
    assert {"resnet", "efficientnet", "convnext", "regnet_y", "shufflenet_v2", "densenet", "vit"} <= families
    assert sum(family(n) not in TRANSFORMER_FAMILIES for n in NAMES) >= 60


# --------------------------------------------------------------------------- gradients


class _DetachedGate(nn.Module):
    """An SE block whose gate is computed from a detached input: no gradient through the
    global pooling, as ``receptive_field`` ignores it."""

    def __init__(self, se: SqueezeExcitation) -> None:
        super().__init__()
        self.se = se

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se._scale(x.detach()) * x


def _prepare(model: nn.Module, positive: bool) -> nn.Module:
    """Max pools -> average pools, SE gates detached, and (``positive``) every conv/linear
    averaging its window with a small positive bias; otherwise the default random init."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.MaxPool2d):
                setattr(parent, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
            elif isinstance(child, SqueezeExcitation):
                setattr(parent, name, _DetachedGate(child))
    if positive:
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    m.weight.fill_(1.0 / m.weight[0].numel())
                    if m.bias is not None:
                        m.bias.fill_(0.1)
    return model


def _support(model: nn.Module, size: int, unit: tuple[int, int], positive: bool) -> tuple[int, int, int, int]:
    torch.manual_seed(0)
    x = (torch.rand(2, 3, size, size, dtype=torch.float64) + 0.5) if positive else \
        torch.randn(2, 3, size, size, dtype=torch.float64)
    x.requires_grad_(True)
    out = model(x)
    grad_out = torch.zeros_like(out)
    grad_out[:, :, unit[0], unit[1]] = 1.0
    (grad,) = torch.autograd.grad(out, x, grad_out)
    mask = grad.abs().sum(dim=(0, 1)) != 0
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def _mbconv(*rows):
    return [efficientnet.MBConvConfig(e, k, s, i, o, n) for e, k, s, i, o, n in rows]


def _v3(*rows):
    return [mobilenetv3.InvertedResidualConfig(i, k, e, o, se, act, s, 1, 1.0) for i, k, e, o, se, act, s in rows]


SMALL = {
    # family: (builder, input side, uniform positive weights?)
    "resnet (bottleneck)": (lambda: resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], width_per_group=16), 160, True),
    "efficientnet (SE, SiLU, stochastic depth)": (
        lambda: efficientnet.EfficientNet(_mbconv((1, 3, 1, 8, 8, 1), (4, 5, 2, 8, 16, 2), (4, 3, 2, 16, 24, 1)),
                                          dropout=0.2, last_channel=64), 96, True),
    "efficientnet_v2 (fused MBConv)": (
        lambda: efficientnet.EfficientNet([efficientnet.FusedMBConvConfig(1, 3, 1, 8, 8, 1),
                                           efficientnet.FusedMBConvConfig(4, 3, 2, 8, 16, 1),
                                           *_mbconv((4, 3, 2, 16, 24, 1))], dropout=0.2, last_channel=64), 80, True),
    "mobilenet_v2": (lambda: torchvision.models.MobileNetV2(
        width_mult=0.25, inverted_residual_setting=[[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 1, 2]]), 96, True),
    "mobilenet_v3 (SE, hardswish)": (lambda: mobilenetv3.MobileNetV3(
        _v3((16, 3, 16, 16, True, "RE", 2), (16, 5, 48, 24, False, "HS", 2), (24, 5, 64, 24, True, "HS", 1)),
        last_channel=64), 112, True),
    "regnet_y (SE, groups)": (lambda: regnet.RegNet(regnet.BlockParams([1, 2], [16, 32], [8, 8], [1.0, 1.0], [2, 2],
                                                                       se_ratio=0.25), stem_width=16), 96, True),
    "shufflenet_v2 (split, shuffle)": (lambda: shufflenetv2.ShuffleNetV2([1, 2, 1], [8, 16, 32, 64, 64]), 128, True),
    "densenet (concat, transitions)": (lambda: densenet.DenseNet(8, (2, 2, 2), 16), 160, True),
    "convnext (LayerNorm, layer scale)": (lambda: convnext.ConvNeXt(
        [convnext.CNBlockConfig(16, 32, 1), convnext.CNBlockConfig(32, None, 1)], layer_scale=1.0), 96, False),
    "squeezenet 1.1 (ceil-mode pools)": (lambda: torchvision.models.squeezenet1_1(), 240, True),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_field_is_the_gradient_support(name):
    build, size, positive = SMALL[name]
    torch.manual_seed(0)
    model = build().eval()
    rf = receptive_field(model, (3, size, size), at="last_feature_map")
    unit = centre_unit(rf)
    top, left, bottom, right = rf.region(*unit)
    assert 0 <= top and 0 <= left and bottom < size and right < size, "the test needs a field inside the image"
    net = feature_extractor(_prepare(model, positive), (3, size, size)).double()
    assert _support(net, size, unit, positive) == (top, left, bottom, right)
    if "SE" in name:
        assert rf.ignored_gates
