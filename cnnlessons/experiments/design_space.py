"""Search instead of design: comparing two *design spaces* by the error distribution of networks
sampled from them (Radosavovic, Kosaraju, Girshick, He, Dollar, "Designing Network Design Spaces",
CVPR 2020: RegNet).

A design space is a family of networks, here ``AnyNet``s: three stages, each with a depth and a
width drawn from a few choices. RegNet's method: sample n networks from the space within a band of
compute (multiply-adds), train each briefly (the paper: 500 networks of 360-400 M multiply-adds,
10 ImageNet epochs each), and compare spaces by their error **EDF**, the empirical distribution
function ``F(e) = (1/n) #{i : e_i < e}``: the fraction of sampled networks with error below e. A
space whose EDF lies higher (to the left) is a better place to look for networks. The paper
refines AnyNetX step by step; one of its steps (AnyNetX_D) keeps only networks whose widths do not
decrease from stage to stage, ``w_{i+1} >= w_i``, and finds the EDF improves markedly. Here that
constraint is tested on the procedural shapes task, on several seeds.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Sequence

import torch

from ..models.anynet import AnyNet, AnyNetConfig
from .degradation import shapes_task
from .modern_recipe import MODERN, ModernRecipe, TrainedRun, train


@dataclass(frozen=True)
class DesignSpace:
    """Networks with ``len(depth_choices)``... per-stage choices, and optionally RegNet's constraint."""

    name: str
    depth_choices: tuple[int, ...] = (1, 2, 3)
    width_choices: tuple[int, ...] = (8, 16, 32, 64)
    stages: int = 3
    increasing_widths: bool = False      # RegNet's AnyNetX_D constraint: w_{i+1} >= w_i

    def allows(self, config: AnyNetConfig) -> bool:
        if len(config.depths) != self.stages or not set(config.depths) <= set(self.depth_choices) \
                or not set(config.widths) <= set(self.width_choices):
            return False
        return not self.increasing_widths or all(a <= b for a, b in zip(config.widths, config.widths[1:]))

    def draw(self, generator: torch.Generator) -> AnyNetConfig:
        """One network, each stage's depth and width drawn uniformly, redrawn until the space allows it."""
        while True:
            pick = lambda choices: choices[int(torch.randint(len(choices), (1,), generator=generator))]  # noqa: E731
            config = AnyNetConfig(tuple(pick(self.depth_choices) for _ in range(self.stages)),
                                  tuple(pick(self.width_choices) for _ in range(self.stages)))
            if self.allows(config):
                return config


FREE = DesignSpace("any widths")
INCREASING = DesignSpace("widths increase", increasing_widths=True)


def anynet_macs(config: AnyNetConfig, image_size: int = 16, num_classes: int = 20) -> int:
    """Multiply-adds of ``AnyNet(config)`` on one ``image_size`` image, by the formula
    ``H W k^2 C_in C_out`` per conv (3x3 convs, 1x1 projections, the final linear layer)."""
    side = image_size
    total = side * side * 9 * 3 * config.stem_width
    c_in = config.stem_width
    for i, (depth, width) in enumerate(zip(config.depths, config.widths)):
        if i > 0:
            side = (side + 1) // 2  # a 3x3 conv with padding 1 and stride 2
        positions = side * side
        total += positions * 9 * (c_in * width + width * width)             # the first block's two convs
        if i > 0 or c_in != width:
            total += positions * c_in * width                               # its 1x1 projection shortcut
        total += (depth - 1) * positions * 9 * 2 * width * width            # the other blocks
        c_in = width
    return total + c_in * num_classes


def sample(space: DesignSpace, n: int, *, seed: int, macs: tuple[int, int], image_size: int = 16,
           num_classes: int = 20, max_draws: int = 100_000) -> list[AnyNetConfig]:
    """``n`` networks drawn from ``space`` whose multiply-adds lie in ``macs = (low, high)`` (as RegNet
    samples within a compute band), from a generator seeded with ``seed``."""
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    low, high = macs
    generator = torch.Generator().manual_seed(seed)
    found: list[AnyNetConfig] = []
    for _ in range(max_draws):
        config = space.draw(generator)
        if low <= anynet_macs(config, image_size, num_classes) <= high:
            found.append(config)
            if len(found) == n:
                return found
    raise ValueError(f"{space.name}: only {len(found)} of {n} networks found in {macs} multiply-adds "
                     f"after {max_draws:,} draws; widen the band")


def edf(errors: Sequence[float], at: Sequence[float]) -> list[float]:
    """The error EDF ``F(e) = (1/n) #{i : e_i < e}`` of ``errors``, at each ``e`` of ``at``."""
    if not errors:
        raise ValueError("edf() needs at least one error")
    return [sum(err < e for err in errors) / len(errors) for e in at]


@dataclass
class SampledNet:
    config: AnyNetConfig
    macs: int
    run: TrainedRun

    @property
    def error(self) -> float:
        """The held-out error, RegNet's "error" of a sampled network."""
        return self.run.val_error


@dataclass
class DesignSpaceResult:
    """Every sampled and trained network, by space and seed."""

    spaces: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: int
    nets: dict[tuple[str, int], list[SampledNet]] = field(default_factory=dict)

    def errors(self, space: str, seed: int | None = None) -> list[float]:
        """Held-out errors of the space's networks (one seed, or all seeds pooled)."""
        seeds = self.seeds if seed is None else (seed,)
        return [net.error for s in seeds for net in self.nets[(space, s)]]

    def mean_error(self, space: str, seed: int) -> float:
        return statistics.fmean(self.errors(space, seed))

    def paired_differences(self, better: str, worse: str) -> list[float]:
        """Per seed: mean error of ``better``'s networks minus ``worse``'s (negative: ``better`` is better)."""
        return [round(self.mean_error(better, s) - self.mean_error(worse, s), 4) for s in self.seeds]

    def converged_fraction(self) -> float:
        runs = [net.run for nets in self.nets.values() for net in nets]
        return sum(r.convergence.converged for r in runs) / len(runs)

    def summary(self) -> dict[str, list[float]]:
        """Per space, one value per seed: the mean held-out error and the fraction of converged runs,
        then the errors of every network (seed-major) for the EDFs (the record's form)."""
        out: dict[str, list[float]] = {}
        for space in self.spaces:
            out[f"{space}: mean error"] = [round(self.mean_error(space, s), 4) for s in self.seeds]
            out[f"{space}: converged fraction"] = [
                round(statistics.fmean(net.run.convergence.converged for net in self.nets[(space, s)]), 4)
                for s in self.seeds]
        return out

    def errors_by_seed(self) -> dict[str, list[list[float]]]:
        return {space: [[round(e, 4) for e in self.errors(space, s)] for s in self.seeds] for space in self.spaces}


def design_space_experiment(spaces: Sequence[DesignSpace] = (FREE, INCREASING), *, n: int = 8,
                            seeds: Sequence[int] = (0,), steps: int = 150, macs: tuple[int, int] = (1_000_000, 6_000_000),
                            n_train: int = 3000, n_val: int = 1000, size: int = 16, classes: int = 20,
                            recipe: ModernRecipe = MODERN, device: torch.device | str = "cpu",
                            data_seed: int = 0) -> DesignSpaceResult:
    """Sample ``n`` networks from each space within ``macs`` and train each for ``steps`` steps with
    ``recipe`` on ``n_train`` procedural images; measure each on ``n_val`` held-out images. Each seed
    draws new networks (and initialises and shuffles with that seed); the data are fixed."""
    if not seeds:
        raise ValueError("give at least one seed")
    data, held_out = shapes_task(n_train, n_val, size=size, classes=classes, seed=data_seed)
    result = DesignSpaceResult(tuple(s.name for s in spaces), tuple(seeds), steps)
    for seed in seeds:
        for k, space in enumerate(spaces):
            configs = sample(space, n, seed=1000 * seed + k, macs=macs, image_size=size, num_classes=classes)
            nets = []
            for i, config in enumerate(configs):
                torch.manual_seed(seed * 100_003 + i)
                model = AnyNet(config, classes)
                run = train(str(config), model, data, held_out, steps=steps, seed=seed, recipe=recipe, device=device)
                nets.append(SampledNet(config, anynet_macs(config, size, classes), run))
            result.nets[(space.name, seed)] = nets
    return result


def design_space_claims(claims, summary: dict[str, list[float]], *, label: str = "",
                        direction: bool = False) -> list[float]:
    """Check the lesson's design-space claims on a ``DesignSpaceResult.summary()`` (a live run's or a
    record's) and return the per-seed paired differences (widths increase minus any widths, mean error).
    With ``direction`` it also asserts RegNet's finding: the widths-increase space has the lower mean
    error on every seed (the recorded full run's result; a default run, with few networks, only prints it).

    The networks train briefly on purpose (RegNet's low-epoch regime), so these claims are about the
    spaces after that budget, not about converged networks."""
    from ..claims import below, on_every_seed

    means = {k.split(":")[0]: v for k, v in summary.items() if k.endswith(": mean error")}
    differences = [round(a - b, 4) for a, b in zip(means[INCREASING.name], means[FREE.name])]
    claims.check(f"{label}design spaces: the sampled networks beat chance (mean held-out error < 0.95, every space "
                 "and seed)", round(max(max(v) for v in means.values()), 3), below(0.95))
    if direction:
        claims.check(f"{label}design spaces: 'widths increase' minus 'any widths' mean held-out error, per seed "
                     f"({len(differences)} seeds)", differences, on_every_seed(below(0)))
    return differences


# What searching costs at ImageNet scale (each from its paper):
MNASNET_SEARCH = {"models sampled": 8_000, "epochs each (proxy)": 5, "days": 4.5, "TPUv2 devices": 64,
                  "source": "Tan et al., MnasNet, CVPR 2019, section 5"}
REGNET_SAMPLING = {"models per design space": 500, "epochs each": 10, "multiply-adds": "360M-400M",
                   "source": "Radosavovic et al., Designing Network Design Spaces, CVPR 2020, section 3"}
RESNET_EPOCHS = 90  # one standard ImageNet training run (He et al. 2015; the ConvNeXt paper's "original 90 epochs")


def proxy_epochs(models: int, epochs_each: int) -> int:
    """ImageNet epochs a search spends training its sampled models: ``models * epochs_each``."""
    return models * epochs_each


__all__ = ["DesignSpace", "DesignSpaceResult", "FREE", "design_space_claims", "INCREASING", "MNASNET_SEARCH", "REGNET_SAMPLING",
           "RESNET_EPOCHS", "SampledNet", "anynet_macs", "design_space_experiment", "edf", "proxy_epochs", "sample"]
