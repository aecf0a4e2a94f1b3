"""A model zoo: pretrained networks by name, offline first.

Frameworks ship "model zoos" so nobody has to pretrain from scratch: torchvision's weights
API (``resnet18(weights="IMAGENET1K_V1")``), TensorFlow's Model Garden. This one holds

- the course's own ``shapes_resnet8``: a CIFAR ResNet-8 (79k parameters) pretrained on the
  sixteen procedural source classes by ``python -m cnnlessons.zoo.pretrain``, shipped in
  ``data/zoo/`` with a JSON manifest (sha256, command, seed, data size, source accuracy,
  versions). Works offline.
- ``glyphs_resnet14``: a wider, deeper CIFAR ResNet-14 (widths 24/48/96) pretrained until its
  source accuracy plateaued on 76 classes (the sixteen shapes and sixty letters and symbols
  rendered from matplotlib's fonts, ``cnnlessons.data.glyphs``), built by
  ``python -m cnnlessons.zoo.pretrain --model glyphs_resnet14``. It also ships earlier weights
  of the same run (``checkpoints(name)``, ``load_checkpoint(name, step)``): source models of
  increasing source accuracy, for "do better source models transfer better?".
- ``imagenet_resnet18``: torchvision's ResNet-18 with its ImageNet-1k weights, from the torch
  hub cache or downloaded (online).

``load(name)`` returns ``(model, metadata)``; every model takes images scaled to ``[-1, 1]``
like ``cnnlessons.data`` produces (the ImageNet model re-normalises them itself). Every file
is checked against the size and sha256 its manifest records before it is loaded.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..io import sha256
from ..paths import zoo_dir

IMAGENET = "imagenet_resnet18"
#: The shipped model that ``scratch_builder("none")`` means (the transfer lesson's default).
DEFAULT = "shapes_resnet8"
#: ImageNet statistics torchvision's weights expect (after scaling pixels to [0, 1]).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def manifest_path(weights: Path) -> Path:
    """The JSON manifest beside a weights file (``NAME.pt`` -> ``NAME.json``)."""
    return Path(weights).with_suffix(".json")


def checkpoints_path(weights: Path) -> Path:
    """The earlier checkpoints beside a weights file (``NAME.pt`` -> ``NAME_checkpoints.pt``; no manifest of their own)."""
    weights = Path(weights)
    return weights.with_name(f"{weights.stem}_checkpoints.pt")


class ZooError(RuntimeError):
    """A model cannot be loaded: unknown, corrupted, or needs a download while offline."""


def shipped() -> list[str]:
    """Names of the models shipped in ``data/zoo`` (one ``NAME.json`` manifest each)."""
    return sorted(p.stem for p in zoo_dir().glob("*.json"))


def available() -> list[str]:
    """Every name ``load`` accepts: the shipped models, then the ImageNet one."""
    return shipped() + [IMAGENET]


def load(name: str) -> tuple[nn.Module, dict[str, Any]]:
    """The pretrained model ``name`` (see ``available()``) in eval mode, on the CPU, and its metadata."""
    if name == IMAGENET:
        return load_imagenet_resnet18()
    if name not in shipped():
        raise ZooError(f"no model {name!r} in the zoo; available: {available()}")
    return load_file(zoo_dir() / f"{name}.pt")


def _rebuild_hint(meta: dict[str, Any]) -> str:
    return f"rebuild it with `{meta.get('command') or 'python -m cnnlessons.zoo.pretrain'}` (from the repository root)"


def _manifest(path: Path) -> dict[str, Any]:
    mpath = manifest_path(path)
    if not mpath.exists():
        raise ZooError(f"no manifest {mpath} for {path}; rebuild with `python -m cnnlessons.zoo.pretrain --out {path}`")
    return json.loads(mpath.read_text())


def _check(path: Path, size: int, digest: str, meta: dict[str, Any]) -> None:
    """Refuse a missing, truncated or corrupted file (size and sha256 against the manifest's)."""
    if not path.exists():
        raise ZooError(f"{path} is missing; {_rebuild_hint(meta)}")
    found, found_digest = path.stat().st_size, sha256(path)
    if found != size or found_digest != digest:
        what = "truncated" if found < size else "corrupted"
        raise ZooError(f"{path} is {what}: {found:,} bytes with sha256 {found_digest[:12]}..., but the manifest records "
                       f"{size:,} bytes with sha256 {digest[:12]}...; {_rebuild_hint(meta)}")


def _architecture(meta: dict[str, Any], num_classes: int | None = None) -> nn.Module:
    from ..models.cifar_resnet import cifar_resnet

    arch = meta["architecture"]
    return cifar_resnet(arch["depth"], num_classes=arch["num_classes"] if num_classes is None else num_classes,
                        widths=tuple(arch.get("widths", (16, 32, 64))))


def load_file(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load a pretrained ``cifar_resnet`` from ``path`` after checking it against ``path``'s manifest.

    The manifest (same name, ``.json``) records the file's size and sha256; a truncated or
    corrupted file raises ``ZooError`` naming the command that rebuilds it.
    """
    path = Path(path)
    meta = _manifest(path)
    _check(path, meta["bytes"], meta["sha256"], meta)
    model = _architecture(meta)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval(), meta


def _weights_path(name_or_path: str | Path) -> Path:
    if isinstance(name_or_path, Path) or str(name_or_path).endswith(".pt"):
        return Path(name_or_path)
    if name_or_path not in shipped():
        raise ZooError(f"no model {name_or_path!r} in the zoo; available: {available()}")
    return zoo_dir() / f"{name_or_path}.pt"


def checkpoints(name: str | Path) -> list[dict[str, Any]]:
    """The weights a shipped model offers, in training order, the final ones last.

    Each entry: ``step`` (optimizer steps taken), ``source_accuracy`` (on the source test set,
    measured with the weights as shipped), ``val_accuracy`` (the held-out curve's value at that
    step, or None) and ``final`` (True for the model ``load(name)`` returns). A model shipped
    without earlier checkpoints has one entry. ``name`` may also be a weights file's path.
    """
    path = _weights_path(name)
    meta = _manifest(path)
    earlier = [dict(e, final=False) for e in meta.get("checkpoints", {}).get("entries", [])]
    final = {"step": meta["config"]["steps"], "source_accuracy": meta["source_accuracy"],
             "val_accuracy": meta.get("val_accuracy"), "final": True}
    return earlier + [final]


def load_checkpoint(name: str | Path, step: int) -> tuple[nn.Module, dict[str, Any]]:
    """Model ``name``'s weights after ``step`` optimizer steps (see ``checkpoints``), in eval mode, on the CPU.

    The final step returns ``load(name)``'s model. Earlier checkpoints are stored in float16 in
    ``NAME_checkpoints.pt`` (checked against the size and sha256 the manifest records) and
    returned as a float32 model. Returns ``(model, entry)`` with ``entry`` from ``checkpoints``.
    """
    path = _weights_path(name)
    entries = {e["step"]: e for e in checkpoints(path)}
    if step not in entries:
        raise ZooError(f"{path.stem} has no checkpoint at step {step!r}; steps: {sorted(entries)}")
    if entries[step]["final"]:
        return load_file(path)[0], entries[step]
    meta = _manifest(path)
    info = meta["checkpoints"]
    stored_path = path.with_name(info["file"])
    _check(stored_path, info["bytes"], info["sha256"], meta)
    stored = torch.load(stored_path, map_location="cpu", weights_only=True)[step]
    model = _architecture(meta)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in stored.items()})
    return model.eval(), entries[step]


def load_checkpoints(name: str | Path) -> list[tuple[nn.Module, dict[str, Any]]]:
    """Every checkpoint of ``name`` loaded: ``[(model, entry), ...]`` in training order, the final last."""
    return [load_checkpoint(name, e["step"]) for e in checkpoints(name)]


class FromUnitRange(nn.Module):
    """Map images in ``[-1, 1]`` to torchvision's ImageNet normalisation: ``((x + 1) / 2 - mean) / std``."""

    def __init__(self, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) / 2 - self.mean) / self.std


def imagenet_checkpoint() -> Path:
    """Where torch hub caches the ImageNet ResNet-18 weights: ``$TORCH_HOME/hub/checkpoints/<url's file name>``."""
    from torchvision.models import ResNet18_Weights

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(ResNet18_Weights.IMAGENET1K_V1.url).name


def load_imagenet_resnet18() -> tuple[nn.Module, dict[str, Any]]:
    """torchvision's ResNet-18 with ``ResNet18_Weights.IMAGENET1K_V1``, from the torch hub cache
    (``imagenet_checkpoint()``) or downloaded there once.

    The stem conv is preceded by ``FromUnitRange`` so the model takes ``[-1, 1]`` images like
    every other zoo model. Offline without a cached copy: ``ZooError`` at once (the server is
    probed for a few seconds first), pointing at the cache path and the shipped model.
    """
    from torchvision.models import ResNet18_Weights, resnet18

    from ..data import online

    weights = ResNet18_Weights.IMAGENET1K_V1
    cached = imagenet_checkpoint()

    def offline(why: str) -> ZooError:
        return ZooError(
            f"torchvision's ImageNet weights are not in the torch hub cache ({cached}) and cannot be downloaded "
            f"from {weights.url}: {why}. They are needed once (or copy the file to that path). Offline, use the "
            f"shipped model instead: {shipped() or ['shapes_resnet8']} (lesson parameter weights='shapes_resnet8')")

    if not cached.is_file() and not online.reachable(weights.url):
        raise offline("the server is not reachable")
    try:
        model = resnet18(weights=weights)  # reads the cached file if there, without a network access
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; a failed hash check a RuntimeError
        raise offline(f"{type(exc).__name__}: {exc}") from exc
    model.conv1 = nn.Sequential(FromUnitRange(), model.conv1)
    meta = {"name": IMAGENET, "source": f"torchvision {weights}", "url": weights.url,
            "input": {"size": 224, "channels": 3, "range": [-1, 1]},
            "classes": list(weights.meta["categories"]),
            "source_accuracy": weights.meta["_metrics"]["ImageNet-1K"]["acc@1"] / 100}
    return model.eval(), meta


def scratch_builder(name: str) -> Callable[[int], nn.Module]:
    """The architecture of zoo model ``name`` with a random initialisation: ``build(num_classes)``.

    Training it from scratch is the fair baseline for transferring ``name``: same network,
    no pretraining. ``"none"`` means ``DEFAULT``'s architecture.
    """
    if name == IMAGENET:
        from torchvision.models import resnet18

        def build_imagenet(num_classes: int) -> nn.Module:
            model = resnet18(num_classes=num_classes)
            model.conv1 = nn.Sequential(FromUnitRange(), model.conv1)
            return model

        return build_imagenet
    if name == "none":
        name = DEFAULT
    if name not in shipped():
        raise ZooError(f"no model {name!r} in the zoo; available: {available()}")
    meta = json.loads((zoo_dir() / f"{name}.json").read_text())
    return lambda num_classes: _architecture(meta, num_classes)
