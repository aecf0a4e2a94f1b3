"""The lessons' experiments, each a function that builds, trains or measures and returns the numbers.

- ``identity``: deepening a trained net by construction (``deepen``), zero-init's shortcut check
- ``degradation``: plain vs residual nets of two depths trained alike; gradients at init
- ``recipe``: the ResNet training recipe and its ablation
- ``transfer``: linear probe, fine-tuning and scratch on a target task
- ``architectures``: the tour's table of ImageNet winners
- after SENet (lesson 07): ``modern_recipe`` (AdamW, warm-up, cosine), ``design_space`` (RegNet's EDFs),
  ``scaling`` (EfficientNet's compound scaling), ``modernize`` (ConvNeXt's roadmap), ``vit_vs_cnn``
"""
from .degradation import (DegradationResult, degradation_claims, degradation_experiment, gradient_norms, plot_curves,
                          shapes_task)
from .identity import deepen, make_identity_, max_output_difference, shortcut_deviation
from .recipe import CIFAR, PAPER, SLIDE, Recipe, ablations, run_recipe

__all__ = ["CIFAR", "PAPER", "SLIDE", "DegradationResult", "Recipe", "ablations", "deepen", "degradation_claims",
           "degradation_experiment",
           "gradient_norms", "make_identity_", "max_output_difference", "plot_curves", "run_recipe", "shapes_task",
           "shortcut_deviation"]
