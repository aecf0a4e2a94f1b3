"""Transfer learning: a pretrained network used on a small target, six ways, compared fairly.

One concept per module:

- ``features``: what a frozen network computes (every stage's pooled output);
- ``probe``: the linear probe, multinomial logistic regression fitted to its optimum (L-BFGS);
- ``finetune``: fine-tuning from the fitted probe (LP-FT), the last stage or every weight, and
  the same network from scratch; BatchNorm frozen or in train mode;
- ``experiment``: the six strategies on one target, every choice made on a validation split,
  the same budget for all (``Experiment``, ``compare``, ``probe_each_stage``);
- ``stats``: summaries over seeds, paired per-seed comparisons with their spread, choosing the
  best on validation, the confusion matrix;
- ``rule``: CS231n's decision rule, word for word, judged holds / fails / undecided, and
  positive or negative transfer named like for like;
- ``record``: the results as a recorded run keeps them.

``from cnnlessons.experiments import transfer`` gives all of them, and their main names here.
"""
from . import experiment, features, finetune, probe, record, rule, stats
from .experiment import (ALL, LR_GRIDS, LR_ONE, PRETRAINED, PROBES, STRATEGIES, TRAINS_WEIGHTS, Budget, Experiment, LabelCount,
                         Result, Selection, Setting, compare, lr_grids, probe_each_stage, usable_labels_per_class)
from .features import Features, extract
from .finetune import (FIT_ERROR, FrozenStatistics, finetune_all, finetune_last, fitted, last_stage, predict, scratch,
                       sgd, start_losses, with_probe_head)
from .probe import L2_GRID, Probe, ProbeFit, fit_probe, fit_probes
from .rule import RULE, Cell, Verdict, cell, transfer_effects, verdict
from .stats import Paired, Summary, best_by_validation, confusion, paired, select_rows, summarise, top_confusions

__all__ = ["ALL", "FIT_ERROR", "L2_GRID", "LR_GRIDS", "LR_ONE", "PRETRAINED", "PROBES", "RULE", "STRATEGIES", "TRAINS_WEIGHTS",
           "Budget", "Cell", "Experiment", "Features", "FrozenStatistics", "LabelCount", "Paired", "Probe", "ProbeFit",
           "Result", "Selection", "Setting", "Summary", "Verdict", "best_by_validation", "cell", "compare", "confusion",
           "experiment", "extract", "features", "finetune", "finetune_all", "finetune_last", "fit_probe", "fit_probes",
           "fitted", "last_stage", "lr_grids", "paired", "predict", "probe", "probe_each_stage", "record", "rule", "scratch",
           "select_rows", "sgd", "start_losses", "stats", "summarise", "top_confusions", "transfer_effects",
           "usable_labels_per_class", "verdict", "with_probe_head"]
