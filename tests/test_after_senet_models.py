"""Lesson 07's blocks and cost formulas against trusted references: torchvision's own modules and
``cnnlessons.analysis.cost.count``."""
from __future__ import annotations

from functools import partial

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.convnext import CNBlock
from torchvision.models.mobilenetv2 import InvertedResidual as TorchvisionInvertedResidual
from torchvision.models.vision_transformer import EncoderBlock as TorchvisionEncoderBlock

from cnnlessons.analysis import count
from cnnlessons.analysis.efficient import (conv_weights, equal_macs_blocks, separable_ratio, separable_vs_dense,
                                           separable_weights, traffic)
from cnnlessons.models.anynet import AnyNetConfig, anynet
from cnnlessons.models.convnext import ConvNeXtBlock, from_torchvision
from cnnlessons.models.mobilenet import DepthwiseSeparable, GroupedBottleneck, InvertedResidual
from cnnlessons.models.vit import EncoderBlock, VisionTransformer, load_torchvision_block, vit_tiny


def weights(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("k, c_in, c_out", [(3, 32, 64), (5, 96, 192), (7, 16, 16)])
def test_separable_weights_and_ratio_match_real_convolutions(k, c_in, c_out):
    dense = nn.Conv2d(c_in, c_out, k, bias=False)
    separable = nn.Sequential(nn.Conv2d(c_in, c_in, k, groups=c_in, bias=False), nn.Conv2d(c_in, c_out, 1, bias=False))
    assert conv_weights(k, c_in, c_out) == weights(dense)
    assert separable_weights(k, c_in, c_out) == weights(separable)
    assert separable_ratio(k, c_out) == pytest.approx(weights(separable) / weights(dense))
    # and the multiply-adds per position, counted on a 1x1 output
    assert count(separable, (c_in, k, k)).macs == separable_weights(k, c_in, c_out)


def test_grouped_weights_divide_by_the_groups():
    assert conv_weights(3, 128, 128, groups=32) == weights(nn.Conv2d(128, 128, 3, groups=32, bias=False)) == 4608
    with pytest.raises(ValueError, match="groups"):
        conv_weights(3, 100, 128, groups=32)
    with pytest.raises(ValueError, match="positive"):
        conv_weights(0, 3, 3)


def test_equal_macs_blocks_have_exactly_equal_multiply_adds():
    for channels in (32, 128, 512):
        blocks = equal_macs_blocks(channels)
        macs = {name: count(m, (channels, 14, 14)).macs for name, m in blocks.items()}
        assert macs["separable"] == macs["dense"] == macs["depthwise"] + macs["pointwise"]


def test_depthwise_moves_more_bytes_per_multiply_add_than_pointwise():
    blocks = equal_macs_blocks(128)
    dw, pw = traffic(blocks["depthwise"], (128, 56, 56)), traffic(blocks["pointwise"], (128, 56, 56))
    assert dw.macs == 9 * 128 * 56 * 56
    assert dw.bytes == 4 * (2 * 128 * 56 * 56 + 9 * 128)
    assert dw.intensity < 1.2 < 10 < pw.intensity


def test_separable_vs_dense_reports_consistent_numbers():
    result = separable_vs_dense(16, 8, batch=2, repeats=2, warmup=0)
    assert result.macs["separable"] == result.macs["dense"]
    assert result.depthwise_mac_share == pytest.approx(9 / (9 + 16))
    assert 0 < result.depthwise_time_share < 1 and result.slowdown > 0
    assert len(result.timings["dense"].times) == 2


def test_inverted_residual_matches_torchvision_in_size_and_cost():
    for c_in, c_out, stride, t in ((32, 32, 1, 6), (16, 24, 2, 6), (32, 16, 1, 1)):
        ours, theirs = InvertedResidual(c_in, c_out, stride, t), TorchvisionInvertedResidual(c_in, c_out, stride, t)
        assert weights(ours) == weights(theirs)
        assert count(ours.eval(), (c_in, 28, 28)).macs == count(theirs.eval(), (c_in, 28, 28)).macs
        assert ours.use_shortcut == (stride == 1 and c_in == c_out)


def test_inverted_residual_projection_is_linear_and_shortcut_adds_input():
    block = InvertedResidual(8, 8).eval()
    assert not any(isinstance(m, (nn.ReLU, nn.ReLU6)) for m in block.project.modules())
    x = torch.randn(2, 8, 6, 6)
    assert torch.allclose(block(x), x + block.project(block.depthwise(block.expand(x))))


def test_depthwise_separable_and_grouped_bottleneck_costs():
    block = DepthwiseSeparable(32, 64)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert sum(c.weight.numel() for c in convs) == separable_weights(3, 32, 64)
    resnext = GroupedBottleneck(256, 128, 256, groups=32)
    torchvision_block = torchvision.models.resnext50_32x4d().layer1[1]  # 256 -> 128 (32 groups) -> 256
    assert weights(resnext) == weights(torchvision_block)
    with pytest.raises(ValueError, match="divisible"):
        GroupedBottleneck(64, 100, 64, groups=32)


def test_convnext_block_equals_torchvisions():
    torch.manual_seed(0)
    theirs = CNBlock(96, 1.0, 0.0, partial(nn.LayerNorm, eps=1e-6)).eval()
    nn.init.normal_(theirs.layer_scale)  # a trained-looking scale, not 1e-6
    ours = from_torchvision(theirs).eval()
    x = torch.randn(2, 96, 14, 14)
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)
    assert weights(ours) == weights(theirs)
    assert weights(ConvNeXtBlock(96)) == 49 * 96 + 96 + 2 * 96 + 2 * (96 * 384) + 384 + 96 + 96


def test_vit_block_equals_torchvisions_encoder_block():
    torch.manual_seed(0)
    theirs = TorchvisionEncoderBlock(4, 64, 128, 0.0, 0.0).eval()
    ours = load_torchvision_block(EncoderBlock(64, 4, 128), theirs).eval()
    x = torch.randn(3, 17, 64)
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)


def test_vit_tiny_and_resnet14_have_about_the_same_size():
    vit = vit_tiny(depth=5)
    assert weights(vit) == 173_076
    assert vit(torch.randn(2, 3, 16, 16)).shape == (2, 20)
    without = VisionTransformer(position=False)
    assert without.position is None and without(torch.randn(1, 3, 16, 16)).shape == (1, 20)
    with pytest.raises(ValueError, match="multiple"):
        VisionTransformer(image_size=18, patch=4)


def test_vit_without_position_embedding_ignores_patch_order():
    torch.manual_seed(0)
    model = VisionTransformer(position=False, depth=2).eval()
    x = torch.randn(1, 3, 16, 16)
    # swap the top-left and bottom-right 4x4 patches: a permutation of the tokens
    y = x.clone()
    y[..., :4, :4], y[..., 12:, 12:] = x[..., 12:, 12:], x[..., :4, :4]
    assert torch.allclose(model(x), model(y), atol=1e-5)
    with_position = VisionTransformer(depth=2).eval()
    assert not torch.allclose(with_position(x), with_position(y), atol=1e-5)


def test_anynet_builds_any_widths_and_checks_its_config():
    model = anynet((1, 2, 1), (64, 8, 32))  # widths that shrink need projection shortcuts
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 20)
    with pytest.raises(ValueError, match="one depth and one width"):
        AnyNetConfig((1, 2), (8, 16, 32))
    with pytest.raises(ValueError, match=">= 1"):
        AnyNetConfig((0, 1, 1), (8, 8, 8))
