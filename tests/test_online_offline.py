"""The online extras, tested offline: the torch hub cache, pre-placed torchvision data, and fast clear errors.

No test here may touch the network: ``no_network`` makes every socket connection fail at once
(and would fail the test if a download were attempted)."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import torch

from cnnlessons import zoo
from cnnlessons.data import online


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *a, **k: pytest.fail(f"a test tried to download {a[0]}"))
    return attempts


def test_imagenet_resnet18_loads_from_the_torch_hub_cache(tmp_path, monkeypatch, no_network):
    from torchvision.models import ResNet18_Weights, resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    path = zoo.imagenet_checkpoint()
    assert path == tmp_path / "hub" / "checkpoints" / Path(ResNet18_Weights.IMAGENET1K_V1.url).name
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    reference = resnet18()  # random weights standing in for ImageNet's
    torch.save(reference.state_dict(), path)
    model, meta = zoo.load("imagenet_resnet18")
    assert torch.equal(model.fc.weight, reference.fc.weight)
    assert meta["name"] == "imagenet_resnet18" and len(meta["classes"]) == 1000
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        expected = reference.eval()(zoo.FromUnitRange()(x))
        assert torch.allclose(model(x), expected, atol=1e-5)  # takes [-1, 1] images
    assert no_network == []


def test_imagenet_resnet18_offline_without_cache_is_a_fast_clear_error(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    start = time.perf_counter()
    with pytest.raises(zoo.ZooError, match=r"not in the torch hub cache .*checkpoints.*shapes_resnet8") as info:
        zoo.load("imagenet_resnet18")
    assert time.perf_counter() - start < 5
    assert "not reachable" in str(info.value)


def _place_oxford_pets(root: Path) -> None:
    """A tiny copy in the layout torchvision's OxfordIIITPet reads (it checks only that the folders exist)."""
    from PIL import Image

    base = root / "oxford_pets" / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations").mkdir()
    lines = {"trainval": [], "test": []}
    for label, breed in enumerate(("Abyssinian", "beagle"), start=1):
        for i in range(6):
            name = f"{breed}_{i}"
            Image.new("RGB", (20, 16), (40 * label, 80, 200 - 40 * label)).save(base / "images" / f"{name}.jpg")
            lines["trainval" if i < 4 else "test"].append(f"{name} {label} {label} 1")
    for split, rows in lines.items():
        (base / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")


def test_torchvision_dataset_uses_a_pre_placed_copy_offline(tmp_path, no_network):
    _place_oxford_pets(tmp_path)
    t = online.load_online("oxford_pets", size=8, train_per_class=3, test_per_class=2, root=tmp_path)
    assert t.classes == ("Abyssinian", "Beagle")
    assert torch.bincount(t.y_train).tolist() == [3, 3] and torch.bincount(t.y_test).tolist() == [2, 2]
    assert t.x_train.shape == (6, 3, 8, 8)
    assert no_network == []


@pytest.mark.parametrize("name", sorted(online.TORCHVISION))
def test_torchvision_dataset_offline_without_copy_is_a_fast_clear_error(tmp_path, name, no_network):
    start = time.perf_counter()
    with pytest.raises(online.OfflineError, match=r"is not in .* cannot be downloaded: .* not reachable.*"
                                                  r"Offline choices: \['similar', 'digits'\]"):
        online.load_online(name, size=8, root=tmp_path)
    assert time.perf_counter() - start < 5
    assert len(no_network) == 1  # one probe of the server, no download


def test_failed_download_is_an_offline_error(tmp_path, monkeypatch):
    from urllib.error import URLError

    def no_route(root, train, download):
        raise URLError("no route to host")

    monkeypatch.setitem(online.TORCHVISION, "cifar10", no_route)
    monkeypatch.setattr(online, "reachable", lambda url, timeout=3.0: True)
    with pytest.raises(online.OfflineError, match="no route to host"):
        online.load_online("cifar10", size=8, root=tmp_path)


def test_reachable_is_false_when_connections_fail(no_network):
    assert online.reachable("https://example.invalid/x") is False
