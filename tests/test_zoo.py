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
from cnnlessons.data import GLYPH_CLASSES, SOURCE_CLASSES
from cnnlessons.zoo.manifest import verify, verify_checkpoints
from cnnlessons.zoo.pretrain import MODELS, Config, canonical_command

SHIPPED = zoo_dir() / "shapes_resnet8.pt"
GLYPHS = zoo_dir() / "glyphs_resnet14.pt"


def test_available_lists_the_shipped_and_the_imagenet_model():
    assert "shapes_resnet8" in zoo.available() and "glyphs_resnet14" in zoo.available()
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


def test_every_manifest_command_parses_back_to_its_config():
    """The recorded commands still run with today's options (new options default to the old behaviour)."""
    from cnnlessons.zoo.pretrain import build_parser, config_from_args

    for name in zoo.shipped():
        meta = json.loads((zoo_dir() / f"{name}.json").read_text())
        words = meta["command"].split()
        assert words[:3] == ["python", "-m", "cnnlessons.zoo.pretrain"]
        assert config_from_args(build_parser().parse_args(words[3:])) == Config(**meta["config"]), name


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


# --- glyphs_resnet14: the larger source model and its checkpoints -------------------------------

def test_glyph_manifest_records_the_run():
    meta = json.loads(GLYPHS.with_suffix(".json").read_text())
    ckpt = zoo.checkpoints_path(GLYPHS)
    assert meta["sha256"] == hashlib.sha256(GLYPHS.read_bytes()).hexdigest() and meta["bytes"] == GLYPHS.stat().st_size
    assert meta["checkpoints"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert GLYPHS.stat().st_size + ckpt.stat().st_size < 5_000_000
    assert meta["classes"] == list(SOURCE_CLASSES + GLYPH_CLASSES) and meta["architecture"]["num_classes"] == 76
    assert Config(**meta["config"]) == MODELS["glyphs_resnet14"]
    assert meta["command"] == canonical_command(MODELS["glyphs_resnet14"], GLYPHS)
    assert {"torch", "python", "numpy", "matplotlib", "pillow", "freetype"} <= set(meta["versions"])
    assert set(meta["data"]["glyphs"]["fonts"]) and meta["data"]["glyphs"]["classes"] == len(GLYPH_CLASSES)


def test_glyph_source_accuracy_plateaued_and_checkpoints_rise():
    meta = json.loads(GLYPHS.with_suffix(".json").read_text())
    curve = [e["val_accuracy"] for e in meta["log"] if "val_accuracy" in e]
    assert len(curve) >= 8 and meta["log"][-1]["step"] == meta["config"]["steps"]   # the schedule finished
    assert 0 <= meta["plateau"]["gain_last_quarter"] < 0.02                           # flat at the end
    entries = zoo.checkpoints("glyphs_resnet14")
    accuracies = [e["source_accuracy"] for e in entries]
    assert len(entries) >= 4 and entries[-1]["final"] and accuracies == sorted(accuracies)
    assert accuracies[-1] > 0.9 and accuracies[-1] - accuracies[0] > 0.1


def test_glyph_model_and_checkpoints_reproduce_their_accuracy():
    measured, recorded = verify(GLYPHS)
    assert abs(measured - recorded) <= 2e-3
    for step, measured, recorded in verify_checkpoints(GLYPHS)[:1]:  # the earliest (the others: --verify)
        assert abs(measured - recorded) <= 2e-3, step


def test_load_checkpoint_gives_each_step_and_the_final_model():
    entries = zoo.checkpoints("glyphs_resnet14")
    final, meta = zoo.load("glyphs_resnet14")
    last, info = zoo.load_checkpoint("glyphs_resnet14", entries[-1]["step"])
    assert info["final"] and torch.equal(last.fc.weight, final.fc.weight)
    first, info = zoo.load_checkpoint("glyphs_resnet14", entries[0]["step"])
    assert not first.training and first.fc.weight.dtype == torch.float32
    assert not torch.equal(first.fc.weight, final.fc.weight)
    assert first(torch.zeros(2, 3, 16, 16)).shape == (2, 76)
    with pytest.raises(zoo.ZooError, match="no checkpoint at step 3"):
        zoo.load_checkpoint("glyphs_resnet14", 3)


def test_damaged_checkpoints_file_is_refused(tmp_path):
    for f in (GLYPHS, GLYPHS.with_suffix(".json"), zoo.checkpoints_path(GLYPHS)):
        shutil.copy(f, tmp_path / f.name)
    stored = zoo.checkpoints_path(tmp_path / GLYPHS.name)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    step = zoo.checkpoints(tmp_path / GLYPHS.name)[0]["step"]
    with pytest.raises(zoo.ZooError, match=r"corrupted.*python -m cnnlessons\.zoo\.pretrain"):
        zoo.load_checkpoint(tmp_path / GLYPHS.name, step)
    zoo.load_file(tmp_path / GLYPHS.name)  # the final weights are intact and still load


def test_scratch_builder_follows_each_manifest():
    fresh = zoo.scratch_builder("glyphs_resnet14")(10)
    assert fresh.widths == (24, 48, 96) and fresh.depth == 14 and fresh.fc.out_features == 10
    assert zoo.scratch_builder("none")(16).widths == (16, 32, 64)  # "none" is the default model's architecture
