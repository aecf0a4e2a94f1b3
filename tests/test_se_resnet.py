"""SE-ResNet-50 against torchvision's ResNet-50 and the SE parameter formula."""
from __future__ import annotations

import pytest
import torch
import torchvision

from cnnlessons.models import se_resnet50
from cnnlessons.models import SEBlock

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
    bn3, se = block.bn3  # the last BN, then the gate (with_se)
    assert isinstance(se, SEBlock)
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        branch = bn3(block.conv3(block.relu(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x))))))))
        gate = se.excitation(branch.mean(dim=(2, 3)))[:, :, None, None]
        expected = torch.relu(branch * gate + block.downsample(x))
        assert torch.allclose(block(x), expected, atol=1e-6)


def test_forward_shape():
    assert se_resnet50(num_classes=10).eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 10)


@pytest.mark.parametrize("bad", [0, 2.0, True])
def test_bad_reduction(bad):
    with pytest.raises(ValueError, match="reduction"):
        se_resnet50(reduction=bad)
