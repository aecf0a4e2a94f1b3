"""cnnlessons.diagram: architecture diagrams drawn from a module's definition, with the numbers
of ``count``, for the lessons' networks and for torchvision blocks no lesson uses."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import convnext, densenet, efficientnet, mobilenetv2, resnet, shufflenetv2, swin_transformer
from torchvision.models.vision_transformer import EncoderBlock
from torchvision.ops import SqueezeExcitation

import cnnlessons
from cnnlessons.analysis import count
from cnnlessons.analysis import diagram as diagram_module  # the function (re-exported)
from cnnlessons.analysis.diagram import Diagram, DiagramError, diagram, graphviz_program, side_by_side

SVG = "{http://www.w3.org/2000/svg}"


def _svg_texts(d: Diagram) -> str:
    root = ET.fromstring(d.svg())
    assert root.tag == f"{SVG}svg"
    return " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def test_the_package_exports_it():
    assert cnnlessons.diagram is diagram is diagram_module


def test_resnet18_stage_by_stage():
    model = torchvision.models.resnet18().eval()
    d = diagram(model, 224)
    cost = count(model, 224)
    assert (d.macs, d.params) == (cost.macs, cost.params)
    names = [b.names for b in d.boxes]
    assert names == [("conv1", "bn1", "relu", "maxpool"), ("layer1",), ("layer2",), ("layer3",), ("layer4",),
                     ("avgpool",), ("fc",)]
    stem = d.node("conv1")
    assert stem.kinds == ("conv 7x7/2", "BN", "ReLU", "max pool 3x3/2")
    assert (stem.input_shape, stem.output_shape) == ((3, 224, 224), (64, 56, 56))
    layer2 = d.node("layer2")
    assert layer2.kind == "2 x BasicBlock" and layer2.output_shape == (128, 28, 28)
    assert layer2.macs == cost.call_of("layer2").macs and layer2.params == cost.call_of("layer2").params
    assert sum(b.macs for b in d.boxes) == cost.macs            # every multiply-add sits in one box
    assert d.node("avgpool").kinds == ("global avg pool", "flatten")
    text = _svg_texts(d)
    for expected in ("layer2", "2 x BasicBlock", "64x56x56 -> 128x28x28", "411 M MACs, 526 k params",
                     "ResNet: 3x224x224 -> 1000, 1.81 G MACs, 11.7 M params"):
        assert expected in text


def test_basic_block_draws_its_shortcut():
    d = diagram(resnet.BasicBlock(64, 64).eval(), (64, 56, 56))
    (start,) = [n for n in d.nodes if n.role == "input"]
    (join,) = [n for n in d.nodes if n.role == "function"]
    assert join.kind == "add + ReLU"
    assert (start.id, join.id) in d.edges                        # the identity path
    assert [b.kind for b in d.boxes] == ["conv 3x3 + BN + ReLU", "conv 3x3 + BN"]
    assert all(b.macs == 56 * 56 * 64 * 64 * 9 for b in d.boxes)


def test_bottleneck_with_projection_and_depth():
    block = resnet.Bottleneck(64, 64, stride=2, downsample=nn.Sequential(
        nn.Conv2d(64, 256, 1, stride=2, bias=False), nn.BatchNorm2d(256))).eval()
    d1 = diagram(block, (64, 56, 56))
    assert [b.kind for b in d1.boxes] == ["conv 1x1 + BN + ReLU", "conv 3x3/2 + BN + ReLU", "conv 1x1 + BN",
                                          "Sequential"]
    d2 = diagram(block, (64, 56, 56), depth=2)                 # one level further: the projection's layers
    assert d2.node("downsample.0").kind == "conv 1x1/2 + BN"
    assert d1.node("downsample").macs == d2.node("downsample.0").macs == 28 * 28 * 256 * 64


# Torchvision blocks that no lesson uses: each is drawn, every box has its shapes, and the
# boxes hold all the block's multiply-adds (none of these blocks computes outside a submodule).
BLOCKS = {
    "MobileNetV2 InvertedResidual": (lambda: mobilenetv2.InvertedResidual(32, 32, 1, 6), (32, 28, 28), 3),
    "SqueezeExcitation": (lambda: SqueezeExcitation(64, 16), (64, 28, 28), 1),
    "EfficientNet MBConv": (lambda: efficientnet.MBConv(efficientnet.MBConvConfig(6, 5, 2, 24, 40, 1), 0.0,
                                                          nn.BatchNorm2d), (24, 56, 56), 2),
    "ConvNeXt CNBlock": (lambda: convnext.CNBlock(96, 1e-6, 0.0), (96, 56, 56), 2),
    "ShuffleNetV2 InvertedResidual": (lambda: shufflenetv2.InvertedResidual(116, 116, 1), (116, 28, 28), 2),
    "DenseNet dense block": (lambda: densenet._DenseBlock(2, 64, 4, 32, 0.0), (64, 56, 56), 1),
    "ViT EncoderBlock": (lambda: EncoderBlock(4, 64, 128, 0.0, 0.0), (50, 64), 1),
    "Swin block": (lambda: swin_transformer.SwinTransformerBlock(32, 2, [4, 4], [2, 2]), (16, 16, 32), 1),
}


@pytest.mark.parametrize("name", list(BLOCKS))
def test_torchvision_blocks_the_lessons_do_not_use(name):
    build, size, depth = BLOCKS[name]
    torch.manual_seed(0)
    block = build().eval()
    d = diagram(block, size, depth)
    cost = count(block, size)
    assert d.boxes and all(b.input_shape and b.output_shape for b in d.boxes)
    outputs = [n for n in d.nodes if n.role == "output"]
    assert outputs and outputs[0].output_shape == tuple(block(torch.zeros(1, *size)).shape[1:])
    assert sum(b.macs for b in d.boxes) <= cost.macs == d.macs
    if name != "Swin block":  # Swin's attention runs in the block's own functions, between its boxes
        assert sum(b.macs for b in d.boxes) == cost.macs
    assert name.split()[0] in _svg_texts(side_by_side(d, title=name))


def test_inception_module_shows_its_four_branches():
    inception = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False).inception3a.eval()
    d = diagram(inception, (192, 28, 28), depth=2)
    (cat,) = [n for n in d.nodes if n.role == "function"]
    assert cat.kind == "cat" and cat.output_shape == (256, 28, 28)
    assert len([a for a, b in d.edges if b == cat.id]) == 4
    assert d.node("branch2.0").output_shape == (96, 28, 28)     # the 1x1 reducer before the 3x3


def test_stages_draw_vgg16_as_five_stages_and_a_classifier():
    with torch.device("meta"):                                 # no memory, no arithmetic
        model = torchvision.models.vgg16().eval()
    d = diagram(model, 224, depth=2, stages=True)
    assert [b.kind for b in d.boxes] == [
        "2 x conv 3x3 + max pool 2x2/2", "2 x conv 3x3 + max pool 2x2/2", "3 x conv 3x3 + max pool 2x2/2",
        "3 x conv 3x3 + max pool 2x2/2", "3 x conv 3x3 + max pool 2x2/2 + adaptive avg pool to 7x7", "3 x fc"]
    assert [b.output_shape for b in d.boxes][:5] == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14),
                                                     (25088,)]  # pooled to 7x7, flattened
    classifier = d.boxes[-1]
    assert classifier.params == 123_642_856                   # fc6 + fc7 + fc8: most of VGG-16
    assert sum(b.macs for b in d.boxes) == d.macs == 15_470_264_320


def test_resnet_stages_are_kept():
    with torch.device("meta"):
        model = torchvision.models.resnet50().eval()
    assert [b.name for b in diagram(model, 224, stages=True).boxes] == [
        "conv1", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]


def test_the_model_is_left_as_it_was():
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    model.layer1.eval()                                        # a mix of modes, kept as it is
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    diagram(model, 64)
    assert model.training and not model.layer1.training and model.layer2.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


def test_a_model_that_reads_its_data_is_traced_for_real():
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x) if float(x.abs().sum()) == 0 else x

    d = diagram(Gate(), (3, 8, 8))
    assert d.node("conv").output_shape == (4, 6, 6)


def test_the_svg_is_the_same_every_time_and_names_no_renderer():
    model = resnet.BasicBlock(8, 8).eval()
    a, b = diagram(model, (8, 16, 16)).svg(), diagram(model, (8, 16, 16)).svg()
    assert a == b and "Generated by" not in a


def test_it_displays_in_jupyter_as_svg_and_png():
    from IPython.core.formatters import DisplayFormatter

    d = diagram(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), (3, 16, 16))
    data, _ = DisplayFormatter().format(d)
    assert data["image/svg+xml"].lstrip().startswith("<?xml") and "<svg" in data["image/svg+xml"]
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert data["text/plain"] == "<Diagram Sequential: 1 boxes, 42.3 k multiply-adds, 224 parameters>"


def test_save(tmp_path):
    d = diagram(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3)), (3, 16, 16))
    assert d.save(tmp_path / "d.svg").read_text().count("<svg") == 1
    assert d.save(tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    assert "digraph" in d.save(tmp_path / "d.gv").read_text()
    with pytest.raises(ValueError, match="svg"):
        d.save(tmp_path / "d.pdf")


def test_side_by_side_draws_each_under_its_title():
    stack = nn.Sequential(*[m for _ in range(3) for m in (nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.ReLU())])
    single = nn.Sequential(nn.Conv2d(64, 64, 7, padding=3, bias=False), nn.ReLU())
    both = side_by_side(diagram(stack, (64, 56, 56), title="three 3x3"),
                        diagram(single, (64, 56, 56), title="one 7x7"), title="same field")
    text = _svg_texts(both)
    assert "three 3x3:" in text and "one 7x7:" in text and "same field" in text
    assert both.params == 27 * 64 * 64 + 49 * 64 * 64
    assert "subgraph cluster_1" in both.source


@pytest.mark.parametrize("kwargs, error", [({"depth": 0}, ValueError), ({"rankdir": "BT"}, ValueError)])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        diagram(nn.Conv2d(3, 4, 3), (3, 8, 8), **kwargs)


def test_bad_input_size_and_model():
    with pytest.raises(ValueError, match="input channels"):
        diagram(nn.Conv2d(3, 4, 3), (4, 8, 8))
    with pytest.raises(TypeError):
        diagram("resnet18", 224)


def test_the_layout_program_is_the_pip_installed_one():
    assert "graphviz-pure" in graphviz_program()


def test_without_any_graphviz_the_error_says_what_to_install(monkeypatch, tmp_path):
    import importlib
    import shutil
    import sysconfig

    module = importlib.import_module("cnnlessons.analysis.diagram")  # the module, not the function
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setattr(module.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DiagramError, match="pip install graphviz-pure"):
        module.graphviz_program()
