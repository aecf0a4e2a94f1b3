"""A small Vision Transformer against a small ResNet of the same size, at two training-set sizes.

Dosovitskiy et al. (ViT, ICLR 2021, section 1): "Transformers lack some of the inductive biases
inherent to CNNs, such as translation equivariance and locality, and therefore do not generalize well
when trained on insufficient amounts of data. However, the picture changes if the models are trained
on larger datasets (14M-300M images)." This experiment asks the small-data half of that sentence on
the procedural shapes task: ``vit_tiny(depth=5)`` (173,076 parameters) and the CIFAR ResNet-14
(16/32/64 channels, 173,156 parameters) trained with one recipe (``modern_recipe.MODERN``: AdamW,
warm-up, cosine) on ``sizes`` training images, on several seeds, each measured on the same held-out
images. Each run's ``Convergence`` says whether it ended where training ends; comparisons are per
seed (paired: the same data, the same seed for both networks).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Sequence

import torch

from ..models.cifar_resnet import cifar_resnet
from ..models.vit import vit_tiny
from .degradation import shapes_task
from .modern_recipe import MODERN, ModernRecipe, TrainedRun, train

NETS = ("ResNet-14", "ViT")
MIN_STEPS = 100  # the convergence rule cannot judge a shorter run


def build(name: str, num_classes: int = 20, image_size: int = 16) -> torch.nn.Module:
    """The two contenders: ``"ResNet-14"`` (CIFAR ResNet, widths 16/32/64) or ``"ViT"`` (``vit_tiny``, 5 blocks)."""
    if name == "ResNet-14":
        return cifar_resnet(14, widths=(16, 32, 64), num_classes=num_classes)
    if name == "ViT":
        return vit_tiny(num_classes=num_classes, image_size=image_size, depth=5)
    raise ValueError(f"unknown network {name!r}; choose from {NETS}")


def steps_for(images: int, epochs: int, batch_size: int = MODERN.batch_size) -> int:
    """``epochs`` passes over ``images`` images in batches of ``batch_size``, and at least ``MIN_STEPS``."""
    return max(MIN_STEPS, -(-epochs * images // batch_size))


@dataclass
class Comparison:
    """Every run, keyed by (network, training images, seed)."""

    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    steps: dict[int, int]
    runs: dict[tuple[str, int, int], TrainedRun] = field(default_factory=dict)

    def errors(self, net: str, size: int) -> list[float]:
        """Held-out error of ``net`` trained on ``size`` images, one per seed."""
        return [self.runs[(net, size, s)].val_error for s in self.seeds]

    def gaps(self, size: int) -> list[float]:
        """Per seed: ViT's held-out error minus the ResNet's (positive: the CNN is better)."""
        return [round(v - r, 4) for v, r in zip(self.errors("ViT", size), self.errors("ResNet-14", size))]

    def mean_gap(self, size: int) -> float:
        return statistics.fmean(self.gaps(size))

    def narrowing(self) -> list[float]:
        """Per seed: the gap at the smallest size minus the gap at the largest (positive: it narrows)."""
        small, large = min(self.sizes), max(self.sizes)
        return [round(a - b, 4) for a, b in zip(self.gaps(small), self.gaps(large))]

    def converged(self) -> dict[str, object]:
        """Each run's ``Convergence``, by a readable name (for ``Claims.check_trained``)."""
        return {f"{net} on {size} images, seed {seed}": run.convergence for (net, size, seed), run in self.runs.items()}

    def all_converged(self) -> bool:
        return all(run.convergence.converged for run in self.runs.values())

    def summary(self) -> dict[str, list[float]]:
        """One value per seed (the record's form): held-out and final training error of each net and
        size, whether it converged (1/0), and the gaps."""
        out: dict[str, list[float]] = {}
        for size in self.sizes:
            for net in NETS:
                runs = [self.runs[(net, size, s)] for s in self.seeds]
                out[f"{net}, {size} images: held-out error"] = [round(r.val_error, 4) for r in runs]
                out[f"{net}, {size} images: final training error"] = [round(r.final_train_error, 4) for r in runs]
                out[f"{net}, {size} images: converged"] = [int(r.convergence.converged) for r in runs]
            out[f"{size} images: ViT minus ResNet-14 held-out error"] = self.gaps(size)
        return out

    def curves(self) -> dict[str, dict[str, list]]:
        """Training error per evaluation window, per net and size, one curve per seed (for plots)."""
        out = {}
        for size in self.sizes:
            for net in NETS:
                runs = [self.runs[(net, size, s)] for s in self.seeds]
                out[f"{net}, {size} images"] = {"step": list(runs[0].history.eval_step),
                                                "error": [[round(e, 4) for e in r.history.window_error] for r in runs]}
        return out


def vit_vs_cnn(sizes: Sequence[int] = (500, 2000), seeds: Sequence[int] = (0, 1), *, epochs: int = 4,
               n_val: int = 1000, image_size: int = 16, classes: int = 20, recipe: ModernRecipe = MODERN,
               device: torch.device | str = "cpu", data_seed: int = 0) -> Comparison:
    """Train both networks on the first ``size`` of the same procedural training images, for each size
    and seed, for ``steps_for(size, epochs)`` steps; measure each on the same ``n_val`` held-out images."""
    if not sizes or not seeds:
        raise ValueError("give at least one training-set size and one seed")
    if min(sizes) < recipe.batch_size:
        raise ValueError(f"every training-set size must hold at least one batch ({recipe.batch_size} images); got {sizes}")
    data, held_out = shapes_task(max(sizes), n_val, size=image_size, classes=classes, seed=data_seed)
    result = Comparison(tuple(sizes), tuple(seeds), {n: steps_for(n, epochs, recipe.batch_size) for n in sizes})
    for size in sizes:
        subset = (data[0][:size], data[1][:size])
        for seed in seeds:
            for net in NETS:
                torch.manual_seed(seed)
                model = build(net, classes, image_size)
                result.runs[(net, size, seed)] = train(f"{net} on {size}", model, subset, held_out,
                                                       steps=result.steps[size], seed=seed, recipe=recipe,
                                                       device=device)
    return result


def verdict(differences: Sequence[float]) -> str:
    """A paired comparison over seeds in words: ``"positive on every seed"``, ``"negative on every seed"``
    or ``"undecided"`` (the sign changes from seed to seed, or a difference is zero)."""
    if differences and all(d > 0 for d in differences):
        return "positive on every seed"
    if differences and all(d < 0 for d in differences):
        return "negative on every seed"
    return "undecided"


def vit_claims(claims, summary: dict[str, list[float]], *, label: str = "", converged: dict[str, object] | None = None,
               require: bool = False, recorded: bool = False) -> dict[str, list[float]]:
    """Check the lesson's claims about a comparison from its ``summary`` (``Comparison.summary()`` of a
    live run, or a record's) and return the per-seed gaps by size.

    The comparisons count only between converged runs: for a live run they are checked with
    ``Claims.check_trained`` when every run converged (``converged``: each run's ``Convergence``) or when
    ``require`` is set (the ``full`` preset: unconverged runs then fail the claims); otherwise they are
    listed as skipped (early training). A record stores whether each run converged (1/0 per seed)."""
    from ..claims import below

    sizes = sorted({int(k.split(" images")[0].split(", ")[1]) for k in summary if k.endswith("held-out error")
                    and k.startswith(NETS[0])})
    gaps = {n: summary[f"{n} images: ViT minus ResNet-14 held-out error"] for n in sizes}
    flags = [v for k, v in summary.items() if k.endswith(": converged")]
    if recorded:
        claims.check(f"{label}ViT vs ResNet-14: every run converged (1 per run)", min(min(f) for f in flags), 1)
        ready, runs = True, None
    else:
        runs = converged or {}
        ready = require or all(getattr(c, "converged", False) for c in runs.values())
    errors = [e for k, v in summary.items() if k.endswith("held-out error") and "minus" not in k for e in v]
    if ready:
        check = claims.check if recorded else (lambda *a: claims.check_trained(*a, runs=runs))
        check(f"{label}ViT and ResNet-14, at convergence: every held-out error below chance (0.95)", round(max(errors), 3),
              below(0.95))
    else:
        unfinished = sum(not getattr(c, "converged", False) for c in runs.values())
        claims.skip("ViT vs ResNet-14 at convergence", f"{unfinished} of {len(runs)} runs have not converged at this "
                                                      "budget (early training); the recorded full run checks it")
    return gaps


__all__ = ["Comparison", "MIN_STEPS", "NETS", "build", "steps_for", "verdict", "vit_claims", "vit_vs_cnn"]
