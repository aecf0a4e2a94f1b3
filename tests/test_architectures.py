"""The tour's table: measured architectures against torchvision's metadata and the papers."""
from __future__ import annotations

import pytest
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
    # Not a CNN: 2010 and 2011 only. A CNN entry without one depth is an ensemble (2016, 2017).
    assert [r.year for r in ILSVRC if not r.cnn] == [2010, 2011]
    assert all(r.depth is None for r in ILSVRC if not r.cnn)
    assert [r.entry.split(" (")[0] for r in ILSVRC if r.cnn and r.depth is None] == ["Trimps-Soushen", "SENet"]


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
