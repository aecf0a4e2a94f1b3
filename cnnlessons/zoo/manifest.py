"""The manifest beside each zoo model: what made it, and what it measures, re-checkable.

``write_manifest`` measures the weights (and any earlier checkpoints) on the source test set and
writes ``NAME.json``: sha256 and size, the architecture, the exact command, the configuration, the
data (generators, seeds, fonts), the source accuracy, the held-out accuracy over the last quarter
of training (``plateau``), the training log and library versions. ``verify`` and
``verify_checkpoints`` re-measure a shipped model against it.
"""
from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path

import torch

from ..io import atomic_write_text, sha256
from . import checkpoints_path, load_checkpoint as load_zoo_checkpoint, load_file, manifest_path
from .source import GLYPH_SEED_OFFSET, TEST_SEED_OFFSET, VAL_SEED_OFFSET, Config, accuracy, build_model, source_data


def _versions() -> dict[str, str]:
    import numpy

    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
                "platform": platform.platform()}
    try:
        import matplotlib
        import PIL
        from PIL import features

        versions.update({"matplotlib": matplotlib.__version__, "pillow": PIL.__version__,
                         "freetype": str(features.version("freetype2"))})
    except ImportError:  # only the glyph source needs them
        pass
    return versions


def _data_description(config: Config) -> dict:
    data: dict = {"generator": "cnnlessons.data.make_shapes", "train_images": config.images,
                  "train_seed": config.seed, "test_images": config.test_images,
                  "test_seed": config.seed + TEST_SEED_OFFSET}
    if config.val_images:
        data.update(val_images=config.val_images, val_seed=config.seed + VAL_SEED_OFFSET)
    if config.source == "shapes+glyphs":
        from ..data import glyphs

        data["generator"] = "cnnlessons.data.make_shapes + cnnlessons.data.make_glyphs"
        data["glyphs"] = {
            "seed_offset": GLYPH_SEED_OFFSET, "classes": len(glyphs.GLYPH_CLASSES),
            "characters": {name: glyphs.GLYPHS[name] for name in glyphs.GLYPH_CLASSES},
            "fonts": {f: sha256(glyphs.font_dir() / f) for f in glyphs.FONTS},
            "atlas_sha256": glyphs.atlas_digest(),
            "left_out": "".join(glyphs.EXCLUDED),
            "pose": "scale 0.5-0.9, aspect 0.82-1.22, rotation +-15 deg, shear +-0.2, shift inside the image",
            "style": f"bolder stroke p={glyphs.BOLD}, Gaussian blur sigma (p) {list(glyphs.BLURS)}, "
                     "foreground/background colours apart in brightness, pixel noise 0.05",
        }
    return data


def write_manifest(out: Path, config: Config, *, command: str, log: list[dict], device: str = "cpu") -> dict:
    """Measure ``out`` (and its checkpoints) on the source test set and write the manifest beside it."""
    dev = torch.device(device)
    test = source_data(config, "test")
    model = build_model(config.depth, len(config.classes), config.widths)
    model.load_state_dict(torch.load(out, map_location="cpu", weights_only=True))
    source_accuracy = accuracy(model, test, dev)
    evals = [e for e in log if "val_accuracy" in e]
    manifest = {
        "name": out.stem,
        "file": out.name,
        "sha256": sha256(out),
        "bytes": out.stat().st_size,
        "architecture": {"builder": "cnnlessons.models.cifar_resnet.cifar_resnet", "depth": config.depth,
                         "widths": list(config.widths), "num_classes": len(config.classes),
                         "parameters": sum(p.numel() for p in model.parameters())},
        "input": {"size": config.size, "channels": 3, "range": [-1, 1],
                  "note": "images scaled to [-1, 1] like cnnlessons.data.make_shapes"},
        "classes": list(config.classes),
        "command": command,
        "config": asdict(config),
        "data": _data_description(config),
        "source_accuracy": round(source_accuracy, 6),
        "train_seconds": round(log[-1]["seconds"], 1) if log else None,
    }
    if evals:
        last = evals[-1]["val_accuracy"]
        quarter = [e for e in evals if e["step"] <= 0.75 * config.steps]
        manifest["val_accuracy"] = last
        manifest["plateau"] = {
            "note": "held-out source accuracy over the last quarter of training (a plateau: a small gain)",
            "from_step": quarter[-1]["step"] if quarter else None,
            "gain_last_quarter": round(last - quarter[-1]["val_accuracy"], 6) if quarter else None,
        }
    if config.snapshots:
        path = checkpoints_path(out)
        stored = torch.load(path, map_location="cpu", weights_only=True)
        entries = []
        for step in config.snapshots:
            model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in stored[step].items()})
            val = next((e.get("val_accuracy") for e in log if e["step"] == step), None)
            entries.append({"step": step, "source_accuracy": round(accuracy(model, test, dev), 6), "val_accuracy": val})
        manifest["checkpoints"] = {"file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size,
                                   "dtype": "float16", "entries": entries,
                                   "note": "earlier weights of the same run (float16); the final ones are `file`"}
    manifest["log"] = log
    manifest["versions"] = _versions()
    atomic_write_text(manifest_path(out), json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def verify(out: Path, device: str = "cpu") -> tuple[float, float]:
    """Re-measure a zoo model's source accuracy; return (measured, recorded in the manifest)."""
    model, meta = load_file(out)
    config = Config(**meta["config"])
    return accuracy(model.to(device), source_data(config, "test"), torch.device(device)), meta["source_accuracy"]


def verify_checkpoints(out: Path, device: str = "cpu") -> list[tuple[int, float, float]]:
    """Re-measure every shipped checkpoint of ``out``: ``(step, measured, recorded)`` each."""
    meta = json.loads(manifest_path(out).read_text())
    config = Config(**meta["config"])
    test = source_data(config, "test")
    rows = []
    for entry in meta.get("checkpoints", {}).get("entries", []):
        model, info = load_zoo_checkpoint(out, entry["step"])
        rows.append((entry["step"], accuracy(model.to(device), test, torch.device(device)), entry["source_accuracy"]))
    return rows
