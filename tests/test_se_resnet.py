"""SE-ResNet-50 against torchvision's ResNet-50 and the SE parameter formula."""
from __future__ import annotations

import pytest
import torch
import torchvision

from cnnlessons.models import SEBlock, se_resnet50, with_se
from cnnlessons.models.se_resnet import SEBottleneck

STAGES = ((3, 256), (4, 512), (6, 1024), (3, 2048))  # blocks, output channels C


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("r", [16, 8])
def test_parameters_are_resnet50_plus_the_gates(r):
    with torch.device("meta"):
        plain, se = torchvision.models.resnet50(weights=None), se_resnet50(reduction=r)
    gates = sum(n * (2 * c * (c // r) + c // r + c) for n, c in STAGES)
    assert _params(se) == _params(plain) + gates


def test_gate_scales_the_residual_branch_before_the_addition():
    torch.manual_seed(0)
    block = se_resnet50().layer1[0].eval()
    assert isinstance(block, SEBottleneck) and isinstance(block.se, SEBlock)
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        branch = block.bn3(block.conv3(block.relu(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x))))))))
        gate = block.se.excitation(branch.mean(dim=(2, 3)))[:, :, None, None]
        expected = torch.relu(branch * gate + block.downsample(x))
        assert torch.allclose(block(x), expected, atol=1e-6)


def test_se_resnet50_is_with_se_of_resnet50():
    """The two ways to build SE-ResNet-50 give the same network: with the same weights (each
    gate moved from ``bn3.1`` to ``se``), the same outputs."""
    torch.manual_seed(0)
    wrapped, built = with_se(torchvision.models.resnet50(num_classes=10)).eval(), se_resnet50(num_classes=10).eval()
    state = {k.replace("bn3.0.", "bn3.").replace("bn3.1.", "se."): v for k, v in wrapped.state_dict().items()}
    built.load_state_dict(state)  # strict: every tensor has its place
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(built(x), wrapped(x), atol=1e-5)


@pytest.mark.parametrize("r", [16, 4])
def test_every_block_has_one_gate_of_reduction_r(r):
    with torch.device("meta"):
        model = se_resnet50(reduction=r)
    gates = [m for m in model.modules() if isinstance(m, SEBlock)]
    assert len(gates) == 16
    assert all(g.excitation[0].out_features == g.excitation[0].in_features // r for g in gates)


def test_forward_shape():
    assert se_resnet50(num_classes=10).eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 10)


@pytest.mark.parametrize("bad", [0, 2.0, True])
def test_bad_reduction(bad):
    with pytest.raises(ValueError, match="reduction"):
        se_resnet50(reduction=bad)
