"""cnnlessons.analysis.cost against hand formulas, torch's own FLOP counter and torchvision's
published figures (its weights metadata, read offline)."""
from __future__ import annotations

import time

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlessons.analysis import compare_forward, count, count_parameters, layer_macs, time_forward
from cnnlessons.analysis.cost import attention_macs, flop_counter


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


# --------------------------------------------------------------------------- attention


def _small_vit(**kwargs) -> nn.Module:
    from torchvision.models.vision_transformer import VisionTransformer
    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=24,
                             num_classes=10, **kwargs).eval()


def _small_vit_macs() -> int:
    """The same ViT counted by hand: patch embedding, per layer the QKV and output projections,
    attention (Q K^T and weights x V over 2 heads of 8) and the MLP, then the head."""
    tokens, e, m = (32 // 8) ** 2 + 1, 16, 24
    patches = 16 * e * (3 * 8 * 8)
    per_layer = tokens * e * 3 * e + 2 * tokens * tokens * e + tokens * e * e + 2 * tokens * e * m
    return patches + 2 * per_layer + e * 10


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_attention_counts_on_real_tensors_of_every_dtype(dtype):
    torch.manual_seed(0)
    model = _small_vit().to(dtype)
    assert count(model, (3, 32, 32)).macs == _small_vit_macs()


def test_attention_counts_the_same_on_meta():
    with torch.device("meta"):
        model = _small_vit()
    assert count(model, (3, 32, 32)).macs == _small_vit_macs()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_attention_counts_on_cuda():
    for dtype in (torch.float32, torch.float16):
        assert count(_small_vit().to("cuda", dtype), (3, 32, 32)).macs == _small_vit_macs()


def test_the_fused_cpu_kernel_is_counted_when_it_runs():
    # On a real CPU tensor scaled_dot_product_attention runs one fused kernel (no matmuls to see):
    # the counter must still find 2 * L_q * L_k * d per head.
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 7, 4), torch.randn(2, 3, 7, 6)
    with torch.no_grad(), flop_counter() as flops:
        torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert flops.get_total_flops() == 2 * attention_macs(q.shape, k.shape, v.shape) == 2 * 2 * 3 * 5 * 7 * (4 + 6)


def test_multihead_attention_fast_path_counts_like_the_slow_path():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    x = torch.randn(2, 10, 16)
    totals = {}
    for mode in ("eval", "train"):  # eval + no_grad takes the fused inference kernel
        getattr(mha, mode)()
        with torch.no_grad(), flop_counter() as flops:
            mha(x, x, x, need_weights=False)
        totals[mode] = flops.get_total_flops()
        kernels = {str(op) for op in flops.get_flop_counts()["Global"]}
        assert ("aten._native_multi_head_attention" in kernels) == (mode == "eval")
    # per batch item: Q, K, V and output projections 4 * L * E^2, attention 2 * L^2 * E
    assert totals["eval"] == totals["train"] == 2 * 2 * (4 * 10 * 16 * 16 + 2 * 10 * 10 * 16)


def test_real_vit_b_16_gets_the_published_figure():
    torch.manual_seed(0)
    model = torchvision.models.vit_b_16().eval()   # built as a user builds it: real CPU tensors
    meta = torchvision.models.get_model_weights("vit_b_16").IMAGENET1K_V1.meta
    cost = count(model, 224)
    assert cost.params == meta["num_params"]
    assert round(cost.macs / 1e9, 3) == meta["_ops"] == 17.564


def test_count_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count(model, (3, 8, 8))
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_model_that_reads_its_data_is_counted_for_real():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 5)

        def forward(self, x):
            return self.a(x) if float(x.sum()) == 0 else self.b(x)   # needs the data

    assert count(Branchy(), (3, 8, 8)).macs == 6 * 6 * 4 * 3 * 9


def test_module_calls_add_up():
    model = torchvision.models.resnet18().eval()
    cost = count(model, 64)
    assert cost.call_of("").macs == cost.macs and cost.call_of("").params == cost.params
    stages = sum(cost.call_of(name).macs for name in ("conv1", "layer1", "layer2", "layer3", "layer4", "fc"))
    assert stages == cost.macs
    block = cost.call_of("layer2.0")
    assert block.kind == "BasicBlock" and block.params == count_parameters(model.layer2[0])
    assert block.macs == sum(cost.call_of(f"layer2.0.{n}").macs for n in ("conv1", "conv2", "downsample"))
    assert [c.call for c in cost.calls if c.name == "layer1.0.relu"] == [0, 1]   # torchvision reuses its ReLU
    assert [c.name for c in cost.calls][:3] == ["", "conv1", "bn1"]            # in the order calls start
