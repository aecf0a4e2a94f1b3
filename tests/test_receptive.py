"""cnnlessons.analysis.receptive: the analytic recurrence against what the networks really compute.

The oracles are independent of the recurrence: ``dependency_map`` pushes impulses through
the real PyTorch layers, ``effective_receptive_field`` back-propagates real gradients, and
the published numbers come from Araujo et al. (Distill 2019) and /work/shared/FACTS.md.
"""
from __future__ import annotations

import random

import pytest
import torch
import torchvision
from torch import nn

from cnnlessons.models.se import SEBlock
from cnnlessons.analysis import (LAST_FEATURE_MAP, LayerSpec, ReceptiveFieldError, build_stack, conv_stack,
                                  dependency_map, dependency_maps, effective_receptive_field, erf_std, receptive_field)

tv = torchvision.models


def meta(builder, **kwargs):
    """Build a torchvision model without allocating or initialising real weights."""
    with torch.device("meta"):
        return builder(**kwargs)


# --------------------------------------------------------------------------- published values

@pytest.mark.parametrize("builder, at, size", [
    (tv.alexnet, LAST_FEATURE_MAP, 195),       # pool5
    (tv.alexnet, "features.10", 163),          # conv5
    (tv.vgg16, LAST_FEATURE_MAP, 212),         # pool5
    (tv.vgg16, "features.28", 196),            # conv5_3
    (tv.resnet18, LAST_FEATURE_MAP, 435),
    (tv.resnet50, "layer4", 427),              # torchvision's v1.5 layout
])
def test_published_receptive_fields(builder, at, size):
    rf = receptive_field(meta(builder), at=at)
    assert rf.size == size
    assert rf.stride == (32 if at in (LAST_FEATURE_MAP, "layer4") else 16)


def test_distill_table_alexnet_vgg_resnet50_paper_layout():
    # Distill's AlexNet has no padding in conv1: 195 / 32 / 64.
    alexnet = meta(tv.alexnet).features
    alexnet[0].padding = (0, 0)
    rf = receptive_field(alexnet)
    assert (rf.size, rf.stride, rf.padding) == (195, 32, 64)
    rf = receptive_field(meta(tv.vgg16).features)
    assert (rf.size, rf.stride, rf.padding) == (212, 32, 90)
    # The paper's ResNet-50 strides in the first 1x1 of a stage, not in the 3x3: 483 / 32 / 239.
    resnet = meta(tv.resnet50)
    for stage in (resnet.layer2, resnet.layer3, resnet.layer4):
        stage[0].conv1.stride, stage[0].conv2.stride = (2, 2), (1, 1)
    rf = receptive_field(resnet, at="layer4")
    assert (rf.size, rf.stride, rf.padding) == (483, 32, 241)
    # Distill's P = 239 comes from TensorFlow's "SAME" max pool, which pads only on the right
    # (and bottom) of the even 112x112 map: 2 fewer pixels at jump 2 than PyTorch's padding=1.
    resnet.maxpool = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(3, 2))
    rf = receptive_field(resnet, at="layer4")
    assert (rf.size, rf.stride, rf.padding) == (483, 32, 239)


def test_last_feature_map_equals_the_named_stage():
    for builder, name in ((tv.resnet18, "layer4"), (tv.alexnet, "features"), (tv.vgg16, "features")):
        model = meta(builder)
        assert receptive_field(model, at=LAST_FEATURE_MAP) == receptive_field(model, at=name)
    googlenet = meta(tv.googlenet, aux_logits=False, init_weights=True)
    assert receptive_field(googlenet, at=LAST_FEATURE_MAP) == receptive_field(googlenet, at="inception5b")


def test_vgg_three_3x3_see_7x7_and_table_follows_the_recurrence():
    rf = receptive_field(conv_stack(3, 3), input_size=(1, 16, 16))
    assert rf.size == 7 and rf.stride == 1 and rf.padding == 3
    sizes = [step.size[0] for step in rf.layers]
    assert sizes == [1, 3, 5, 7]  # r_l = 1 + 2l


# --------------------------------------------------------------------------- the real computation as oracle

def bounding_box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def interior_units(rf, axis: int, n_out: int, n_in: int) -> list[int]:
    """Output indices along ``axis`` whose whole field lies inside the image."""
    units = []
    for u in range(n_out):
        start = u * rf.stride_hw[axis] - rf.padding_hw[axis]
        if start >= 0 and start + rf.size_hw[axis] - 1 <= n_in - 1:
            units.append(u)
    return units


def assert_matches_real_dependencies(model: nn.Module, input_size: tuple[int, int, int]) -> int:
    """For interior output units, the impulse-response bounding box is exactly the analytic
    region; returns how many units were compared."""
    rf = receptive_field(model, input_size)
    out = model(torch.zeros(1, *input_size))
    assert tuple(out.shape[-2:]) == rf.map_size
    rows = interior_units(rf, 0, rf.map_size[0], input_size[1])
    cols = interior_units(rf, 1, rf.map_size[1], input_size[2])
    maps = dependency_maps(model, input_size)
    checked = 0
    for row in sorted({rows[0], rows[len(rows) // 2], rows[-1]}) if rows else []:
        for col in sorted({cols[0], cols[len(cols) // 2], cols[-1]}) if cols else []:
            assert bounding_box(maps[row, col]) == rf.region(row, col), (model, row, col)
            checked += 1
    return checked


def random_layer(rng: random.Random) -> LayerSpec:
    kind = rng.choice(["conv", "conv", "conv", "maxpool", "avgpool"])
    kernel = rng.choice([1, 2, 3, 5]) if kind == "conv" else rng.choice([2, 3])
    dilation = rng.choice([1, 1, 2, 3]) if kind != "avgpool" else 1
    stride = rng.choice([1, 1, 2])
    max_pad = kernel // 2 if kind != "conv" else dilation * (kernel - 1)
    return LayerSpec(kind, kernel, stride, dilation, rng.randint(0, max_pad))


def test_random_stacks_match_impulse_responses():
    rng = random.Random(0)
    compared = 0
    for _ in range(30):
        layers = [random_layer(rng) for _ in range(rng.randint(1, 5))]
        model = build_stack(layers, channels=2, in_channels=1)
        try:
            compared += assert_matches_real_dependencies(model, (1, 36, 32))
        except RuntimeError as exc:  # the map shrank to nothing: a legal but useless stack
            assert "too small" in str(exc) or "Output size" in str(exc), exc
    assert compared >= 60


def test_random_stacks_match_gradient_support():
    rng = random.Random(1)
    compared = 0
    for _ in range(15):
        layers = [random_layer(rng) for _ in range(rng.randint(1, 4))]
        layers = [LayerSpec("avgpool", s.kernel, s.stride, 1, min(s.padding, s.kernel // 2))
                  if s.kind == "maxpool" else s for s in layers]  # gradients do not see through max pooling
        model = build_stack(layers, channels=2, in_channels=1, activation=None)
        rf = receptive_field(model, (1, 40, 40))
        if rf.map_size[0] < 1:
            continue
        rows = interior_units(rf, 0, rf.map_size[0], 40)
        if not rows:
            continue
        unit = (rows[0], rows[0])
        erf = effective_receptive_field(model, (1, 40, 40), unit=unit, n_inputs=2, seed=3, dtype=torch.float64)
        assert bounding_box(erf > 0) == rf.region(*unit)
        compared += 1
    assert compared >= 8


class Branches(nn.Module):
    """Parallel branches merged by ``add`` or channel ``cat`` (residual / Inception style)."""

    def __init__(self, branches: list[nn.Module], merge: str) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.merge = merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x) for branch in self.branches]
        if self.merge == "cat":
            return torch.cat(outs, dim=1)
        total = outs[0]
        for out in outs[1:]:
            total = total + out
        return total


def same_size_branch(rng: random.Random, stride: int) -> nn.Module:
    """A branch of 1-2 layers with "same" padding, so all branches' maps agree in size."""
    layers = []
    for i in range(rng.randint(1, 2)):
        kind = rng.choice(["conv", "conv", "maxpool"])
        kernel = rng.choice([1, 3, 5])
        dilation = rng.choice([1, 2]) if kind == "conv" else 1
        layers.append(LayerSpec(kind, kernel, stride if i == 0 else 1, dilation))
    return build_stack(layers, channels=2, in_channels=2)


def test_random_branching_nets_match_impulse_responses():
    rng = random.Random(2)
    compared = 0
    for _ in range(12):
        stride = rng.choice([1, 2])
        model = nn.Sequential(
            nn.Conv2d(1, 2, 3, padding=1),
            Branches([same_size_branch(rng, stride) for _ in range(rng.randint(2, 3))], rng.choice(["add", "cat"])),
            nn.MaxPool2d(3, 2),
        )
        compared += assert_matches_real_dependencies(model, (1, 31, 31))
    assert compared >= 15


def test_unaligned_branches_take_the_union():
    # One branch is shifted by a zero pad: the union is larger than either branch's field.
    shifted = nn.Sequential(nn.ZeroPad2d((2, 0, 2, 0)), nn.Conv2d(1, 1, 3, padding=(0, 0)))
    model = Branches([nn.Conv2d(1, 1, 3, padding=1), shifted], "add")
    model.branches[1][1].padding = (0, 0)
    rf = receptive_field(model, (1, 20, 20))
    assert rf.size == 4 and rf.padding == 2
    assert_matches_real_dependencies(model, (1, 20, 20))


def test_resnet_with_downsample_and_inception_cat():
    resnet = tv.resnet18()
    resnet.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    body = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool, resnet.layer1, resnet.layer2)
    rf = receptive_field(body, (1, 64, 64))
    assert rf.size == receptive_field(meta(tv.resnet18), at="layer2").size
    googlenet = meta(tv.googlenet, aux_logits=False, init_weights=True)
    inc = receptive_field(googlenet, at="inception3a")
    before = receptive_field(googlenet, at="maxpool2")
    # The 3x3 branch (3x3 conv) and the pool branch (3x3 pool) both add 2 jumps to the field.
    assert inc.size == before.size + 2 * before.stride


def test_non_square_kernels_and_strides():
    model = nn.Sequential(nn.Conv2d(1, 2, (3, 5), stride=(1, 2), padding=(1, 2)), nn.ReLU(),
                          nn.MaxPool2d((2, 3), stride=(2, 1), dilation=(1, 2)),
                          nn.Conv2d(2, 2, (1, 3), dilation=(1, 2)))
    rf = receptive_field(model, (1, 30, 40))
    assert rf.size == (1 + 2 + 1 * 1, 5 + 4 * 2 + 4 * 2)
    assert rf.stride_hw == (2, 2) and rf.stride == 2 and isinstance(rf.size, tuple)
    assert assert_matches_real_dependencies(model, (1, 30, 40)) >= 1


def test_functional_pools_and_dilation():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, dilation=4, padding="same")

        def forward(self, x):
            x = torch.nn.functional.max_pool2d(self.conv(x), 3, 2, 1)
            return torch.relu(torch.nn.functional.avg_pool2d(x, kernel_size=2))

    rf = receptive_field(Net(), (1, 33, 33))
    assert rf.size == 9 + 2 * 1 + 1 * 2 and rf.stride == 4
    assert_matches_real_dependencies(Net(), (1, 33, 33))


# --------------------------------------------------------------------------- errors

def test_linear_in_the_middle_is_an_error_naming_it():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Linear(14, 14), nn.Conv2d(1, 1, 3))
    with pytest.raises(ReceptiveFieldError, match=r"layer '1'.*Linear"):
        receptive_field(model, (1, 16, 16))


def test_global_pooling_before_the_end_is_an_error_naming_it():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Conv2d(4, 4, 1))
    with pytest.raises(ReceptiveFieldError, match=r"layer '1' pools the whole 14x14 map"):
        receptive_field(model, (1, 16, 16))
    with pytest.raises(ReceptiveFieldError, match=r"layer 'avgpool'.*at='last_feature_map'"):
        receptive_field(meta(tv.resnet18))


def test_squeeze_excitation_gates_are_ignored_by_default_and_reported():
    body = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), SEBlock(16, reduction=4), nn.Conv2d(16, 16, 3))
    plain = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.Identity(), nn.Conv2d(16, 16, 3))
    rf = receptive_field(body, (1, 16, 16))
    assert rf == receptive_field(plain, (1, 16, 16))
    assert rf.global_context_ignored and len(rf.ignored_gates) == 1 and "ignored" in str(rf)
    assert not receptive_field(plain, (1, 16, 16)).global_context_ignored
    with pytest.raises(ReceptiveFieldError, match=r"'1.squeeze'.*ignore_global_context=True"):
        receptive_field(body, (1, 16, 16), ignore_global_context=False)


def test_other_errors():
    with pytest.raises(ReceptiveFieldError, match=r"Upsample"):
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2)), (1, 8, 8))
    with pytest.raises(ValueError, match="at='nope' is not a module"):
        receptive_field(conv_stack(2), (1, 8, 8), at="nope")
    with pytest.raises(ValueError, match=r"input_size.*\(8, 8\) \(it has 2 entries\)"):
        receptive_field(conv_stack(2), (8, 8))
    with pytest.raises(ValueError, match=r"input_size=\(3, 32, 32\) gives layer 'conv1' 3 input channels, but it "
                                         r"takes 8: use input_size=\(8, 32, 32\)"):
        receptive_field(conv_stack(2, channels=8), (3, 32, 32))
    with pytest.raises(ValueError, match=r"input_size=\(3, 16, 16\) is too small: the 1x1 map reaching layer '20' is smaller than its kernel; use a larger input_size$"):
        receptive_field(meta(tv.vgg11).features, (3, 16, 16))
    with pytest.raises(TypeError, match="model must be an nn.Module; got function"):
        receptive_field(lambda x: x, (1, 8, 8))

    class SpatialCat(nn.Module):
        def forward(self, x):
            return torch.cat([x, x], dim=3)

    with pytest.raises(ReceptiveFieldError, match="spatial axis"):
        receptive_field(SpatialCat(), (1, 8, 8))

    class DifferentJumps(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(1, 1, 1, stride=2)
            self.b = nn.Conv2d(1, 1, 1, stride=4, padding=3)

        def forward(self, x):
            return self.a(x) + self.b(x)

    with pytest.raises(ReceptiveFieldError, match="different jumps"):
        receptive_field(DifferentJumps(), (1, 8, 8))
    with pytest.raises(ValueError, match="dilation must be 1 for 'avgpool'"):
        LayerSpec("avgpool", 3, dilation=2)
    with pytest.raises(ValueError, match="kind must be one of"):
        LayerSpec("pool")
    with pytest.raises(ValueError, match="weights must be one of"):
        effective_receptive_field(conv_stack(2), (1, 8, 8), weights="ones")
    with pytest.raises(ReceptiveFieldError, match=r"\(N, C, H, W\) feature map"):
        effective_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten()), (1, 8, 8))


# --------------------------------------------------------------------------- effective receptive field

@pytest.mark.parametrize("kernel", [3, 5])
def test_uniform_linear_erf_has_variance_n_k2_minus_1_over_12(kernel):
    for depth in (1, 2, 4):
        model = conv_stack(depth, kernel, activation=None)
        erf = effective_receptive_field(model, (1, 41, 41), weights="uniform", dtype=torch.float64)
        var_h, var_w = (s ** 2 for s in erf_std(erf))
        expected = depth * (kernel ** 2 - 1) / 12
        assert var_h == pytest.approx(expected, rel=1e-9) and var_w == pytest.approx(expected, rel=1e-9)


def test_erf_support_is_the_theoretical_field_and_the_model_is_untouched():
    model = conv_stack(3, 3, channels=4, in_channels=1)
    before = [p.clone() for p in model.parameters()]
    erf = effective_receptive_field(model, (1, 21, 21), weights="random", n_inputs=4, n_inits=2)
    assert erf.shape == (21, 21)
    assert bounding_box(erf > 0) == (7, 7, 13, 13)  # 7x7 around the centre (10, 10)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    same = effective_receptive_field(model, (1, 21, 21), weights="random", n_inputs=4, n_inits=2)
    assert torch.equal(erf, same)  # seeded


def test_dependency_map_of_a_dilated_conv_has_holes():
    mask = dependency_map(nn.Conv2d(1, 1, 3, dilation=3, padding=3), (1, 15, 15))
    expected = torch.zeros(15, 15, dtype=torch.bool)
    for dy in (-3, 0, 3):
        for dx in (-3, 0, 3):
            expected[7 + dy, 7 + dx] = True
    assert torch.equal(mask, expected)


def test_erf_std_of_a_box():
    box = torch.zeros(1, 20)
    box[0, 5:10] = 1.0
    assert erf_std(box)[1] == pytest.approx(((5 ** 2 - 1) / 12) ** 0.5)
    assert erf_std(box)[0] == 0.0


def test_more_torchvision_graphs():
    # Inception v3 (functional pools, 299x299): Distill's table gives 1311 / 32 / 618.
    rf = receptive_field(meta(tv.inception_v3, aux_logits=False, init_weights=False), (3, 299, 299),
                         at=LAST_FEATURE_MAP)
    assert (rf.size, rf.stride, rf.padding) == (1311, 32, 618)
    # GoogLeNet's input transform slices and re-concatenates channels: no effect on the field.
    plain = meta(tv.googlenet, aux_logits=False, init_weights=True)
    transformed = meta(tv.googlenet, aux_logits=False, init_weights=True, transform_input=True)
    a, b = receptive_field(plain, at=LAST_FEATURE_MAP), receptive_field(transformed, at=LAST_FEATURE_MAP)
    assert (a.size, a.stride, a.padding) == (b.size, b.stride, b.padding)
    # SE-ResNet-50: squeeze-and-excitation gates ignored, the field is ResNet-50's.
    se_resnet = meta(tv.resnet50)
    for stage in (se_resnet.layer1, se_resnet.layer2, se_resnet.layer3, se_resnet.layer4):
        for block in stage:
            block.bn3 = nn.Sequential(block.bn3, SEBlock(block.bn3.num_features))
    assert receptive_field(se_resnet, at=LAST_FEATURE_MAP, ignore_global_context=True).size == 427
    with pytest.raises(ReceptiveFieldError, match=r"layer1\.0\.bn3\.1\.squeeze"):  # strict mode
        receptive_field(se_resnet, at=LAST_FEATURE_MAP, ignore_global_context=False)


# --------------------------------------------------------------------------- ancestors and the drawing

def test_ancestors_are_the_units_impulses_reach_in_random_stacks():
    """An earlier map's units that feed an output unit, computed from the two fields, equal the
    bounding box of what the real tail of the network (impulses at that map) reaches."""
    rng = random.Random(2)
    compared = 0
    for _ in range(12):
        layers = [random_layer(rng) for _ in range(rng.randint(2, 4))]
        model = build_stack(layers, channels=1)
        children = list(model.named_children())
        try:
            final = receptive_field(model, (1, 28, 28))
        except (RuntimeError, ReceptiveFieldError):
            continue
        unit = (final.map_size[0] // 2, final.map_size[1] // 2)
        for i, (name, _) in enumerate(children[:-1]):
            earlier = receptive_field(model, (1, 28, 28), at=name)
            tail = nn.Sequential(*[m for _, m in children[i + 1:]])
            if not any(isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)) for m in tail):
                continue
            reached = dependency_map(tail, (1, *earlier.map_size), unit=unit)
            assert final.ancestors(earlier, *unit) == bounding_box(reached), (layers, name)
            r, c = final.central_ancestor(earlier, *unit)
            top, left, bottom, right = final.ancestors(earlier, *unit)
            assert top <= r <= bottom and left <= c <= right
            compared += 1
    assert compared >= 10


def test_central_ancestors_nest_in_real_networks_and_offsets_are_explained():
    from cnnlessons.analysis.drawing import ancestor_regions, field_offset

    alexnet = meta(tv.alexnet)
    names = {"conv1": "features.0", "pool2": "features.5", "conv5": "features.10", "pool5": "features.12"}
    fields = {label: receptive_field(alexnet, at=name) for label, name in names.items()}
    regions = ancestor_regions(fields)
    boxes = list(regions.values())
    for inner, outer in zip(boxes, boxes[1:]):  # each square inside the next one
        assert outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]
    # 6x6 pool5 has no middle unit: half a jump (16) off the 13x13 conv5's -0.5 px
    assert field_offset(fields["conv5"]) == (-0.5, -0.5)
    assert field_offset(fields["pool5"]) == (15.5, 15.5)
    assert field_offset(receptive_field(meta(tv.vgg16), at=LAST_FEATURE_MAP)) == (0.0, 0.0)
    assert field_offset(receptive_field(meta(tv.resnet18), at=LAST_FEATURE_MAP)) == (-15.5, -15.5)


def test_ancestors_refuse_fields_of_another_input():
    model = conv_stack(2, 3)
    a = receptive_field(model, (1, 16, 16))
    b = receptive_field(model, (1, 20, 20), at="conv1")
    with pytest.raises(ValueError, match="input"):
        a.ancestors(b, 0, 0)


def test_steps_table_shows_the_recurrence():
    rf = receptive_field(conv_stack(3, 3), (1, 16, 16))
    table = rf.steps_table(caption="three 3x3")
    assert table.header[0] == "layer" and "size r" in table.header
    assert [row[table.header.index("size r")] for row in table.rows] == ["1", "3", "5", "7"]
    assert "<table>" in table._repr_html_() and "three 3x3" in str(table)
