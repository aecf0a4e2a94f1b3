"""cnnlessons.analysis.cost against hand formulas, torch's own FLOP counter and torchvision's
published figures (its weights metadata, read offline)."""
from __future__ import annotations

import time

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlessons.analysis import compare_forward, count, layer_macs, time_forward


def _meta_model(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return torchvision.models.get_model(name, weights=None, **kwargs).eval()


def test_conv_matches_hand_formula():
    conv = nn.Conv2d(6, 12, kernel_size=(3, 5), stride=2, padding=1, groups=3)
    cost = count(conv, (6, 17, 20))
    h_out = (17 + 2 - 3) // 2 + 1
    w_out = (20 + 2 - 5) // 2 + 1
    assert cost.macs == h_out * w_out * 12 * (6 // 3) * 3 * 5
    assert cost.params == 12 * (6 // 3) * 3 * 5 + 12
    assert cost.layers[0].output_shape == (12, h_out, w_out)


def test_linear_matches_hand_formula():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10), nn.ReLU(), nn.Linear(10, 7, bias=False))
    cost = count(model, (3, 4, 4))
    assert cost.macs == 48 * 10 + 10 * 7
    assert cost.params == 48 * 10 + 10 + 70
    assert cost.depth == 2 and cost.weighted_layers == 2


def test_a_layer_called_twice_counts_twice():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(self.conv(x))

    cost = count(Twice(), (4, 8, 8))
    assert cost.macs == 2 * 8 * 8 * 4 * 9 * 4
    assert cost.depth == 2 and cost.weighted_layers == 1 and len(cost.layers) == 2


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "alexnet"])
def test_agrees_with_torch_flop_counter(name):
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as flops:
        model(torch.zeros(1, 3, 96, 96))
    # torch counts a multiply-add as 2 FLOPs, for convolutions and matrix products only here.
    assert 2 * count(model, (3, 96, 96)).macs == flops.get_total_flops()


def test_meta_device_gives_the_same_counts():
    real = torchvision.models.resnet18().eval()
    meta = _meta_model("resnet18")
    a, b = count(real, 64), count(meta, 64)
    assert (a.params, a.macs, a.depth) == (b.params, b.macs, b.depth)


@pytest.mark.parametrize("name, kwargs", [
    ("alexnet", {}), ("vgg16", {}), ("googlenet", {"aux_logits": False, "init_weights": False}),
    ("resnet18", {}), ("resnet50", {}),
])
def test_published_torchvision_figures(name, kwargs):
    meta = torchvision.models.get_model_weights(name).IMAGENET1K_V1.meta
    cost = count(_meta_model(name, **kwargs), (3, 224, 224))
    assert cost.params == meta["num_params"]
    assert round(cost.macs / 1e9, 3) == pytest.approx(meta["_ops"], abs=5e-4)


@pytest.mark.parametrize("name, depth", [("alexnet", 8), ("vgg16", 16), ("vgg19", 19), ("resnet18", 18),
                                         ("resnet50", 50), ("googlenet", 22)])
def test_depth_is_the_number_in_the_name(name, depth):
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    assert count(_meta_model(name, **kwargs), 224).depth == depth


def test_unused_layers_cost_nothing():
    model = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False).eval()
    cost = count(model, 96)
    assert not any(layer.name.startswith("aux") for layer in cost.layers)
    assert cost.params_used < cost.params


def test_layer_macs_rejects_other_modules():
    with pytest.raises(TypeError, match="conv or linear"):
        layer_macs(nn.ReLU(), torch.zeros(1, 3))


@pytest.mark.parametrize("bad", [0, (3, 0, 4), "224", (3, 2.0, 2), ()])
def test_bad_input_size(bad):
    with pytest.raises(ValueError, match="input_size"):
        count(nn.Conv2d(3, 3, 1), bad)


def test_time_forward_counts_only_timed_runs():
    calls = []
    module = nn.Identity()
    module.register_forward_hook(lambda *args: calls.append(1))
    timing = time_forward(module, torch.zeros(2), repeats=4, warmup=2)
    assert len(timing.times) == 4 and len(calls) == 6
    assert timing.spread[0] <= timing.median <= timing.spread[1]
    with pytest.raises(ValueError, match="repeats"):
        time_forward(module, torch.zeros(2), repeats=0)


def test_time_forward_measures_the_call():
    class Sleep(nn.Module):
        def forward(self, x):
            time.sleep(0.01)
            return x

    timing = time_forward(Sleep(), torch.zeros(1), repeats=3, warmup=0)
    assert all(t >= 0.01 for t in timing.times)
    assert timing.median < 1.0


def test_compare_forward_interleaves():
    order = []
    a, b = nn.Identity(), nn.Identity()
    a.register_forward_hook(lambda *args: order.append("a"))
    b.register_forward_hook(lambda *args: order.append("b"))
    timings = compare_forward({"a": a, "b": b}, torch.zeros(1), repeats=3, warmup=1)
    assert order == ["a", "b"] * 4
    assert len(timings["a"].times) == len(timings["b"].times) == 3


def test_table_lists_layers_and_totals():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 6 * 6, 5))
    cost = count(model, (3, 8, 8))
    text = cost.table()
    assert [line.split()[0] for line in text.splitlines()[1:-1]] == ["0", "2"]
    assert text.splitlines()[-1].split()[-2:] == [f"{cost.params:,}", f"{cost.macs:,}"]
    # the conv (6*6*8*27 = 7,776) costs more than the linear layer (288*5 = 1,440)
    assert [line.split()[0] for line in cost.table(top=1).splitlines()[1:-1]] == ["0"]
