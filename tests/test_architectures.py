"""The tour's table: measured architectures against torchvision's metadata and the papers."""
from __future__ import annotations

import pytest
import torch
import torchvision

from cnnlessons.experiments.architectures import ARCHITECTURES, HUMAN_TOP5, ILSVRC, get_architecture, profile, published


@pytest.mark.parametrize("name", ["AlexNet", "GoogLeNet", "ResNet-18", "ResNet-34"])
def test_counts_match_torchvision_metadata(name):
    p = profile(name)
    meta = torchvision.models.get_model_weights(get_architecture(name).torchvision_name).IMAGENET1K_V1.meta
    assert p.params == meta["num_params"]
    assert round(p.gmacs, 3) == pytest.approx(meta["_ops"], abs=5e-4)
    assert p.published.acc1 == meta["_metrics"]["ImageNet-1K"]["acc@1"]


@pytest.mark.parametrize("name, rf", [("AlexNet", 195), ("VGG-16", 212), ("ResNet-50", 427), ("ResNet-18", 435)])
def test_receptive_fields_match_distill_and_facts(name, rf):
    # Araujo et al. (Distill 2019) and FACTS.md: torchvision's layouts.
    assert profile(name).receptive_field == rf


@pytest.mark.parametrize("name", ["VGG-16", "VGG-19", "ResNet-18", "ResNet-34", "ResNet-50"])
def test_depth_is_the_number_in_the_name(name):
    assert profile(name).depth == int(name.split("-")[1])


def test_se_resnet50_is_resnet50_plus_gates():
    se, plain = profile("SE-ResNet-50"), profile("ResNet-50")
    assert se.receptive_field == plain.receptive_field
    assert 2.4e6 < se.params - plain.params < 2.6e6  # Hu et al.: "about 2.5M" more
    assert se.published is None


def test_profile_on_a_real_device_equals_meta():
    assert profile("AlexNet", input_size=96, device="cpu") == profile("AlexNet", input_size=96)


def test_every_architecture_builds_and_published_figures_exist():
    names = [a.name for a in ARCHITECTURES]
    assert len(set(names)) == len(names)
    for arch in ARCHITECTURES:
        if arch.torchvision_name:
            assert published(arch.torchvision_name).params > 0


def test_ilsvrc_table():
    years = [r.year for r in ILSVRC]
    assert years == sorted(years) and years[0] == 2010 and years[-1] == 2017
    best = {}
    for r in ILSVRC:
        best[r.year] = min(best.get(r.year, 100.0), r.top5)
        assert r.source
    errors = [best[y] for y in sorted(best)]
    assert errors == sorted(errors, reverse=True)  # every year beat the last
    assert best[2015] < HUMAN_TOP5 < best[2014]


def test_unknown_architecture():
    with pytest.raises(KeyError, match="choose from"):
        get_architecture("LeNet")


def test_receptive_field_below_224_uses_the_conv_features():
    # At 128x128 AlexNet's adaptive pool upsamples 3x3 maps to 6x6; the conv part's field is unchanged.
    assert profile("AlexNet", input_size=128).receptive_field == 195


def test_ilsvrc_entries_say_whether_they_are_cnns():
    # Not a CNN: 2010 and 2011 only; from 2012 every entry averaged several CNNs.
    assert [r.year for r in ILSVRC if not r.cnn] == [2010, 2011]
    assert all(r.deepest is None and not r.members for r in ILSVRC if not r.cnn)
    assert all(r.members and r.label.startswith("ensemble of ") for r in ILSVRC if r.cnn)
    # The deepest member's depth where the papers give it: AlexNet 8, VGG 19, GoogLeNet 22, ResNet 152.
    deepest = {r.entry: r.deepest for r in ILSVRC if r.deepest}
    assert deepest == {"AlexNet": 8, "VGG (runner-up)": 19, "GoogLeNet": 22, "ResNet": 152, "SENet": 154}
    assert [r.label for r in ILSVRC if r.entry == "ResNet"] == ["ensemble of 6 CNNs; deepest 152 layers"]


def test_se_gates_are_counted_apart_from_the_depth():
    se = profile("SE-ResNet-50")
    assert (se.depth, se.gates) == (50, 16)
    assert se.weighted_layers == profile("ResNet-50").weighted_layers + 2 * 16  # two FC layers per gate


def test_without_gates_replaces_every_gate_and_leaves_the_model_alone():
    from cnnlessons.experiments.architectures import without_gates
    from cnnlessons.models import SEBlock, se_resnet50, with_se
    with torch.device("meta"):
        for model in (se_resnet50(), with_se(torchvision.models.resnet18())):
            plain, gates = without_gates(model)
            assert gates == sum(isinstance(m, SEBlock) for m in model.modules()) > 0
            assert not any(isinstance(m, SEBlock) for m in plain.modules())
            assert any(isinstance(m, SEBlock) for m in model.modules())  # a copy was changed
        plain = torchvision.models.resnet18()
        assert without_gates(plain) == (plain, 0)


def test_profile_table_says_where_the_counts_are_torchvisions():
    from cnnlessons.experiments.architectures import matches_published, profile_table
    profiles = [profile("AlexNet"), profile("SE-ResNet-50")]
    table = profile_table(profiles)
    assert [row[-1] for row in table.rows] == ["yes", "-"]
    assert table.rows[1][2] == "50 (+16 gates)"
    assert matches_published(profile("AlexNet", input_size=128), 128) is None  # published figures are for 224


def test_compare_convs_follows_the_zf_paper():
    from cnnlessons.experiments.architectures import compare_convs
    from cnnlessons.models import alexnet_dense, zfnet
    with torch.device("meta"):
        table = compare_convs({"AlexNet": alexnet_dense().eval(), "ZFNet": zfnet().eval()})
    maps = [(row[1], row[3]) for row in table.rows[:5]]
    # conv1: 55 vs 110 (stride 4 vs 2); conv2 is stride 2 in ZFNet: 27 vs 26; conv3-5: 13 in both.
    assert maps == [("55x55", "110x110"), ("27x27", "26x26")] + [("13x13", "13x13")] * 3
    assert table.rows[-1][0] == "whole network"


def test_extra_data_and_design_of_zoo_models():
    from cnnlessons.experiments.architectures import GROUPS, design, extra_data, group
    assert [n for n in ("regnet_y_128gf", "vit_h_14", "vit_b_16", "resnet50") if extra_data(n)] == [
        "regnet_y_128gf", "vit_h_14"]  # SWAG: Instagram pre-training
    assert (design("maxvit_t"), design("swin_t"), design("convnext_tiny")) == ("hybrid", "transformer", "CNN")
    assert group("maxvit_t") != group("vit_b_16") and group("maxvit_t") in GROUPS


def test_zoo_groups():
    from cnnlessons.experiments.architectures import GROUPS, group, zoo_names
    assert group("squeezenet1_1") == group("mobilenet_v3_small") != group("alexnet")  # SqueezeNet is 2016
    assert group("inception_v3") == group("googlenet")
    assert all(group(name) in GROUPS for name in zoo_names())


# --------------------------------------------------------------------------- the shipped zoo table


def test_the_shipped_table_is_used_when_it_fits_this_torchvision(monkeypatch, tmp_path):
    from dataclasses import asdict

    from cnnlessons.experiments import architectures, zoo_table

    path = zoo_table.write_table(tmp_path / "table.json", names=["alexnet", "squeezenet1_1"])
    table = zoo_table.load_table(path)
    assert table["torchvision"] == torchvision.__version__ and sorted(table["rows"]) == ["alexnet", "squeezenet1_1"]
    assert table["rows"]["alexnet"] == asdict(architectures.zoo_row("alexnet"))
    monkeypatch.setattr(zoo_table, "table_path", lambda: path)
    measured = []
    monkeypatch.setattr(zoo_table, "zoo", lambda names=None: measured.extend(names or ["*"]) or [])
    rows = zoo_table.cached_zoo(["squeezenet1_1", "alexnet"])
    assert rows == [architectures.ZooRow(**table["rows"][n]) for n in ("squeezenet1_1", "alexnet")]
    assert measured == []                                # read, not measured
    with pytest.raises(zoo_table.ZooTableError, match=r"no row for \['squeezenet1_0'\].*make zoo-table"):
        zoo_table.cached_zoo(["alexnet", "squeezenet1_0"])
    table["torchvision"] = "0.0.1"
    path.write_text(__import__("json").dumps(table))
    with pytest.raises(zoo_table.ZooTableError, match=r"torchvision 0\.0\.1.*make zoo-table"):
        zoo_table.cached_zoo(["alexnet"])
    assert measured == []                                # another torchvision: an error, not a live measure


def test_a_missing_zoo_table_is_an_error_naming_make_zoo_table(monkeypatch, tmp_path):
    """No table: a clear error before any work, never an empty table and 80 models measured live."""
    from cnnlessons.experiments import zoo_table

    monkeypatch.setattr(zoo_table, "table_path", lambda: tmp_path / "none.json")
    monkeypatch.setattr(zoo_table, "zoo", lambda names=None: pytest.fail("measured live"))
    for call in (zoo_table.load_table, zoo_table.cached_zoo, zoo_table.table_matches_torchvision):
        with pytest.raises(zoo_table.ZooTableError, match="none.json: make it with make zoo-table"):
            call()


def test_zoo_table_command_writes_where_it_is_told(monkeypatch, tmp_path, capsys):
    from cnnlessons.experiments import zoo_table

    original = zoo_table.zoo
    monkeypatch.setattr(zoo_table, "zoo", lambda names=None: original(["squeezenet1_1"]))  # one model, not 80
    monkeypatch.setattr(zoo_table, "table_path", lambda: tmp_path / "none.json")  # make zoo-table needs no table
    assert zoo_table.main(["--output", str(tmp_path / "t.json")]) == 0
    assert "1 models" in capsys.readouterr().out
    assert zoo_table.load_table(tmp_path / "t.json")["command"] == "python -m cnnlessons.experiments.zoo_table"
