"""Transfer results as a recorded run keeps them (``cnnlessons.records``): rows, curves, a summary.

- ``rows``: one flat row per run (``Result.row()``: target, strategy, labels per class, seed, the
  chosen setting and whether it sat at a grid's edge, validation and test accuracy, final training
  error, steps, fitted/optimal, the budget's factor and the BatchNorm mode), read back with
  ``cnnlessons.records.record_rows`` and fed to ``stats`` and ``rule`` as they are;
- ``curves``: for every SGD run, its training error and loss per pass (``History.window_error``);
- ``summary``: per group of seeds, the test accuracy and the final training error, one value per
  seed, under a name that is a label (looked up whole, never split), for ``make test-full``.
"""
from __future__ import annotations

from typing import Any, Sequence

from .experiment import Result


def unique(results: Sequence[Result]) -> list[Result]:
    """``results`` with each run once, in order (a run shared by two groups, as the last stage's
    probe is by ``compare`` and ``probe_each_stage``, is one object)."""
    seen: set[int] = set()
    return [r for r in results if not (id(r) in seen or seen.add(id(r)))]  # type: ignore[func-returns-value]


def _name(r: Result) -> str:
    extra = "".join([f" stage {r.setting.stage}" if r.strategy in ("linear_probe", "random_features") else "",
                     f" bn {r.bn}" if r.bn else "", f" x{r.factor}" if r.factor != 1 else ""])
    return f"{r.target} {r.labels_per_class}/class {r.strategy}{extra}"


def summary(results: Sequence[Result]) -> dict[str, list[float]]:
    """``{"<target> <n>/class <strategy>[ stage k][ bn mode][ xF] accuracy": [per seed], ...}`` and the
    same for ``final_train_error``, seeds in order."""
    out: dict[str, list[float]] = {}
    for r in sorted(unique(results), key=lambda r: r.seed):
        for key in ("accuracy", "final_train_error"):
            name = f"{_name(r)} {key.replace('_', ' ')}"
            out.setdefault(name, []).append(round(float(getattr(r, key)), 4))
    return out


def rows(results: Sequence[Result]) -> list[dict[str, Any]]:
    """Every run's ``row()``, each run once."""
    return [r.row() for r in unique(results)]


def curves(results: Sequence[Result], points: int = 50) -> dict[str, list[dict[str, Any]]]:
    """``{"runs": [...]}``: for every SGD run, its identifying fields and its training error and loss
    averaged over ``points`` equal spans of its steps (each batch's, in train mode: ``History.error``
    and ``loss``), ``step`` the last step of each span."""
    runs = []
    for r in unique(results):
        if r.history is None:
            continue
        h, n = r.history, len(r.history.error)
        ends = sorted({max(1, round(n * (i + 1) / min(points, n))) for i in range(min(points, n))})
        starts = [0] + ends[:-1]
        runs.append({"target": r.target, "strategy": r.strategy, "labels_per_class": r.labels_per_class,
                     "seed": r.seed, "factor": r.factor, "bn": r.bn, "lr": r.setting.lr, "step": ends,
                     "error": [round(sum(h.error[a:b]) / (b - a), 4) for a, b in zip(starts, ends)],
                     "loss": [round(sum(h.loss[a:b]) / (b - a), 4) for a, b in zip(starts, ends)]})
    return {"runs": runs}
