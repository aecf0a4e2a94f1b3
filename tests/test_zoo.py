"""The model zoo: the shipped model loads offline and matches its manifest; damage is detected."""
from __future__ import annotations

import hashlib
import json
import shutil
from urllib.error import URLError

import pytest
import torch

from cnnlessons import zoo
from cnnlessons.paths import zoo_dir
from cnnlessons.data import SOURCE_CLASSES
from cnnlessons.zoo.pretrain import verify

SHIPPED = zoo_dir() / "shapes_resnet8.pt"


def test_available_lists_the_shipped_and_the_imagenet_model():
    assert "shapes_resnet8" in zoo.available()
    assert zoo.IMAGENET in zoo.available()


def test_manifest_records_what_the_issue_asks():
    meta = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert meta["sha256"] == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert meta["bytes"] == SHIPPED.stat().st_size < 5_000_000
    assert meta["command"].startswith("python -m cnnlessons.zoo.pretrain ")
    assert meta["config"]["seed"] == meta["data"]["train_seed"]
    assert meta["data"]["train_images"] == meta["config"]["images"]
    assert meta["classes"] == list(SOURCE_CLASSES)
    assert {"torch", "python", "numpy"} <= set(meta["versions"])
    assert 0.8 < meta["source_accuracy"] <= 1


def test_shipped_model_reproduces_its_manifest_accuracy():
    """Re-measured on the regenerated source test set (the full rebuild, ~10 CPU-minutes,
    is `python -m cnnlessons.zoo.pretrain` with the manifest's command; too slow for CI)."""
    measured, recorded = verify(SHIPPED)
    assert abs(measured - recorded) <= 2e-3


def test_load_returns_an_eval_model_with_the_source_classes():
    model, meta = zoo.load("shapes_resnet8")
    assert not model.training
    assert model.fc.out_features == len(meta["classes"]) == 16
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 16)


def _copy(tmp_path):
    shutil.copy(SHIPPED, tmp_path / SHIPPED.name)
    shutil.copy(SHIPPED.with_suffix(".json"), tmp_path / SHIPPED.with_suffix(".json").name)
    return tmp_path / SHIPPED.name


def test_corrupted_file_is_refused_with_the_rebuild_command(tmp_path):
    path = _copy(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(zoo.ZooError, match=r"corrupted.*python -m cnnlessons\.zoo\.pretrain"):
        zoo.load_file(path)


def test_truncated_file_is_refused(tmp_path):
    path = _copy(tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(zoo.ZooError, match="truncated"):
        zoo.load_file(path)


def test_unknown_name_lists_the_available_models():
    with pytest.raises(zoo.ZooError, match="shapes_resnet8"):
        zoo.load("alexnet_from_1998")


def test_imagenet_offline_points_at_the_shipped_model(monkeypatch):
    import torchvision.models._api as api

    def offline(*args, **kwargs):
        raise URLError("no route to host")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    with pytest.raises(zoo.ZooError, match="shapes_resnet8"):
        zoo.load(zoo.IMAGENET)


def test_from_unit_range_matches_torchvision_normalize():
    from torchvision.transforms import v2

    x01 = torch.rand(2, 3, 5, 5)
    expected = v2.Normalize(zoo.IMAGENET_MEAN, zoo.IMAGENET_STD)(x01)
    assert torch.allclose(zoo.FromUnitRange()(x01 * 2 - 1), expected, atol=1e-6)


def test_scratch_builder_has_the_shipped_architecture():
    model, _ = zoo.load("shapes_resnet8")
    fresh = zoo.scratch_builder("shapes_resnet8")(16)
    assert {k: v.shape for k, v in fresh.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    assert not torch.equal(fresh.fc.weight, model.fc.weight)
    imagenet = zoo.scratch_builder(zoo.IMAGENET)(7)
    assert imagenet.fc.out_features == 7
