import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlessons.models import SEBlock, cifar_resnet
from cnnlessons.analysis import count_parameters
from cnnlessons.models.cifar_resnet import BasicBlock, PadShortcut


def _hand_count(n: int, num_classes: int = 10, widths=(16, 32, 64)) -> int:
    """He et al.'s CIFAR net counted by hand: 3x3 convs without bias, BN (2 per channel), FC."""
    total = 3 * widths[0] * 9 + 2 * widths[0]            # stem conv + BN
    c_in = widths[0]
    for c in widths:
        for i in range(n):
            total += (c_in if i == 0 else c) * c * 9 + 2 * c  # conv1 + BN1
            total += c * c * 9 + 2 * c                         # conv2 + BN2
        c_in = c
    return total + widths[-1] * num_classes + num_classes


@pytest.mark.parametrize("depth, expected", [(20, 269_722), (56, 853_018)])
def test_parameter_counts_match_the_paper(depth, expected):
    # FACTS.md: ResNet-20 269,722 (0.27M), ResNet-56 853,018 (0.85M), option-A shortcuts.
    assert count_parameters(cifar_resnet(depth)) == expected
    assert _hand_count((depth - 2) // 6) == expected
    assert count_parameters(cifar_resnet(depth, residual=False)) == expected  # plain: same layers


def test_depth_counts_weighted_layers():
    model = cifar_resnet(32)
    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert model.depth == len(weighted) == 32


@pytest.mark.parametrize("size, maps", [(32, (32, 16, 8)), (16, (16, 8, 4))])
def test_input_size_agnostic_and_stage_shapes(size, maps):
    model = cifar_resnet(20, num_classes=7).eval()
    seen = []
    hooks = [s.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[1:]))) for s in model.stages]
    out = model(torch.randn(2, 3, size, size))
    for h in hooks:
        h.remove()
    assert out.shape == (2, 7)
    assert seen == [(16, maps[0], maps[0]), (32, maps[1], maps[1]), (64, maps[2], maps[2])]


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.randn(2, 16, 8, 8)
    out = PadShortcut(16, 32, 2)(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(out[:, 16:]) == 0


def test_block_forward_is_the_papers_formula():
    torch.manual_seed(0)
    for residual in (True, False):
        block = BasicBlock(16, 32, stride=2, residual=residual).eval()
        x = torch.randn(2, 16, 8, 8).relu()
        branch = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
        shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, 16))
        expected = F.relu(branch + shortcut) if residual else F.relu(branch)
        assert torch.allclose(block(x), expected, atol=1e-6)


def test_he_init_variance():
    # He et al. 2015: Var(w) = 2 / fan; torchvision's choice fan = fan_out = C_out * k * k.
    torch.manual_seed(0)
    model = cifar_resnet(20)
    w = model.layer3[1].conv1.weight
    assert math.isclose(w.std().item(), math.sqrt(2 / (64 * 9)), rel_tol=0.03)
    small = cifar_resnet(20, init="small").layer3[1].conv1.weight
    assert math.isclose(small.std().item(), 0.01, rel_tol=0.03)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.all(b.weight == 1) and torch.all(b.bias == 0) for b in bns)


def test_zero_init_residual_zeroes_last_bn_only():
    model = cifar_resnet(20, zero_init_residual=True)
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 9
    assert all(torch.all(b.bn2.weight == 0) for b in blocks)
    assert all(torch.all(b.bn1.weight == 1) for b in blocks)


def test_se_option_adds_the_se_blocks_parameters():
    plain = count_parameters(cifar_resnet(20))
    with_se = cifar_resnet(20, se=True)
    per_block = {c: count_parameters(SEBlock(c)) for c in (16, 32, 64)}
    # SEBlock(C, 16): C*h + h + h*C + C with h = max(1, C // 16).
    assert per_block == {c: 2 * c * max(1, c // 16) + max(1, c // 16) + c for c in (16, 32, 64)}
    assert count_parameters(with_se) == plain + 3 * sum(per_block.values())
    assert sum(isinstance(m, SEBlock) for m in with_se.modules()) == 9


def test_no_batch_norm_variant_has_biases_and_no_bn():
    model = cifar_resnet(14, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Conv2d))
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


@pytest.mark.parametrize("kwargs, word", [
    ({"depth": 21}, "depth"), ({"depth": 2}, "depth"), ({"depth": 20, "num_classes": 0}, "num_classes"),
    ({"depth": 20, "init": "xavier"}, "init"), ({"depth": 20, "widths": (16, 32)}, "widths"),
    ({"depth": 20, "residual": False, "zero_init_residual": True}, "zero_init_residual"),
])
def test_bad_arguments_name_the_parameter(kwargs, word):
    with pytest.raises(ValueError, match=word):
        cifar_resnet(**kwargs)


def test_one_name_for_the_residual_flag():
    """``residual`` is the flag of the net and of every block (the plain twin: ``residual=False``);
    the old second name is gone, not an alias."""
    plain = cifar_resnet(14, residual=False)
    assert plain.residual is False and all(b.residual is False for b in plain.modules() if isinstance(b, BasicBlock))
    assert all(b.residual for b in cifar_resnet(14).modules() if isinstance(b, BasicBlock))
    with pytest.raises(TypeError, match="shortcuts"):
        cifar_resnet(14, shortcuts=False)  # type: ignore[call-arg]


def test_se_reduction_sets_the_width_of_the_excitation():
    from cnnlessons.models import SEBlock

    for r, hidden in ((16, [1, 1, 2]), (2, [4, 8, 16])):
        net = cifar_resnet(20, se=True, se_reduction=r, widths=(8, 16, 32))
        widths = [m.excitation[0].out_features for m in net.modules() if isinstance(m, SEBlock)]
        assert widths[::3] == hidden and len(widths) == 9
    assert count_parameters(cifar_resnet(20, se=True, se_reduction=2, widths=(8, 16, 32))) - count_parameters(
        cifar_resnet(20, widths=(8, 16, 32))) == sum(3 * (2 * c * c // 2 + c // 2 + c) for c in (8, 16, 32))
    with pytest.raises(ValueError, match="se_reduction"):
        cifar_resnet(20, se=True, se_reduction=0)
