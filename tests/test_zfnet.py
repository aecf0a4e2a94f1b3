"""ZFNet and the dense AlexNet against the papers' map sizes and hand-counted parameters."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlessons.analysis.cost import count
from cnnlessons.models import alexnet_dense, zfnet
from cnnlessons.models.zfnet import ALEXNET_LAYERS, ZFNET_LAYERS, EightLayerNet, config_diff


def _map_sizes(model: EightLayerNet, size: int = 224) -> list[int]:
    x, sizes = torch.zeros(1, 3, size, size), []
    for module in model:
        x = module(x)
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
            sizes.append(x.shape[-1])
    return sizes


def test_zfnet_map_sizes_follow_the_paper():
    # Zeiler & Fergus Fig. 3: conv1 110, pool 55, conv2 26, pool 13, conv3-5 13, pool 6.
    assert _map_sizes(zfnet()) == [110, 55, 26, 13, 13, 13, 13, 6]


def test_alexnet_map_sizes_follow_the_paper():
    # Krizhevsky et al.: 55 after conv1, 27 after the first pool, 13 after the second, 6 at the end.
    assert _map_sizes(alexnet_dense()) == [55, 27, 27, 13, 13, 13, 13, 6]


@pytest.mark.parametrize("builder, layers", [(zfnet, ZFNET_LAYERS), (alexnet_dense, ALEXNET_LAYERS)])
def test_parameters_match_hand_count(builder, layers):
    expected, c_in = 0, 3
    for layer in layers:
        expected += layer.filters * layer.kernel ** 2 * c_in + layer.filters
        c_in = layer.filters
    expected += (c_in * 36 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    with torch.device("meta"):
        model = builder()
    cost = count(model, 224)
    assert cost.params == expected
    assert cost.depth == 8 and cost.weighted_layers == 8


def test_figure3_widths():
    model = zfnet(conv345=(384, 384, 256))
    assert [layer.filters for layer in model.layers] == [96, 256, 384, 384, 256]
    assert model(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)


def test_config_diff_lists_what_zeiler_and_fergus_changed():
    diff = {(layer, field): (a, b) for layer, field, a, b in config_diff(ALEXNET_LAYERS, ZFNET_LAYERS)}
    assert diff[("conv1", "kernel")] == (11, 7) and diff[("conv1", "stride")] == (4, 2)
    assert diff[("conv2", "stride")] == (1, 2)
    assert [diff[(f"conv{i}", "filters")] for i in (3, 4, 5)] == [(384, 512), (384, 1024), (256, 512)]
    assert ("conv2", "kernel") not in diff and ("conv1", "filters") not in diff
    assert config_diff(ZFNET_LAYERS, ZFNET_LAYERS) == []


@pytest.mark.parametrize("kwargs, name", [({"conv345": (1, 2)}, "conv345"), ({"num_classes": 0}, "num_classes"),
                                          ({"dropout": 1.5}, "dropout")])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        zfnet(**kwargs)
