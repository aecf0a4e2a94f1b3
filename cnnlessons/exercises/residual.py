"""Exercises of lessons 03 (the residual identity argument) and 04 (ResNet in practice).

Expected answers are computed from the library's and torchvision's modules, never typed in.
"""
from __future__ import annotations

import functools
import math

from torch import nn
from torchvision.models.resnet import Bottleneck

from ..analysis.cost import count_parameters
from ..models.cifar_resnet import cifar_resnet
from ..models.se import SEBlock
from . import Exercise, equals


def _conv_weights(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


resnet32_params = Exercise(
    name="resnet32_params",
    question="How many parameters does the CIFAR ResNet-32 (n = 5, 10 classes, option-A shortcuts) have? "
             "Count conv weights (no biases), two BN parameters per channel and the final FC layer.",
    is_correct=equals(count_parameters(cifar_resnet(32)), rel_tol=0),
    hint="Stem 3*16*9 + 2*16; each block: two 3x3 convs C_in*C*9 and C*C*9, plus 2*C per BN; "
         "FC 64*10 + 10. Only the first block of stages 2 and 3 has C_in = C / 2.",
    giveaways=(r"ResNet-32[^\n]{0,60}\b464,?154\b",),
)

identity_blocks = Exercise(
    name="identity_blocks",
    question="deepen(resnet8, 32): how many identity blocks does it insert in the whole network?",
    is_correct=equals((32 - 8) // 6 * 3, rel_tol=0),
    hint="depth = 6n + 2 and each stage has n blocks; count the new blocks per stage, times the stages.",
    giveaways=(r"\b12\b[^\n.]{0,40}identity blocks", r"identity blocks[^\n.]{0,40}\b12\b",
               r"\b4\b[^\n.]{0,30}(identity )?blocks (per|in each) stage"),
)

plain_bn_gamma = Exercise(
    name="plain_bn_gamma",
    question="An eval-mode BatchNorm with running mean 0, running variance 1, beta 0 and eps = 1e-5: "
             "which gamma makes it the identity (to float precision)?",
    is_correct=equals(math.sqrt(1 + nn.BatchNorm2d(1).eps), rel_tol=1e-7),
    hint="Eval-mode BN computes gamma * (x - mean) / sqrt(var + eps) + beta.",
    giveaways=(r"sqrt\(\s*1\s*\+\s*(eps|\\epsilon|ε)", r"√\(?\s*1\s*\+\s*(eps|ε)", r"\b1\.00000[0-9]",
               r"gamma\s*=\s*(sqrt|√)", r"\\gamma\s*=\s*\\sqrt"),
)

bottleneck_weights = Exercise(
    name="bottleneck_weights",
    question="A bottleneck block of ResNet-50's third stage has 1024 channels in and out (1x1 to 256, 3x3 256->256, "
             "1x1 to 1024): how many conv weights? (No BN, no biases.)",
    is_correct=equals(_conv_weights(Bottleneck(1024, 256)), rel_tol=0),
    hint="A k x k conv from C_in to C_out has C_out * C_in * k * k weights; add the three convs.",
)

se_params = Exercise(
    name="se_params",
    question="How many parameters does an SE block (reduction 16) add on 2048 channels, biases included?",
    is_correct=equals(count_parameters(SEBlock(2048, 16)), rel_tol=0),
    hint="Two fully connected layers: C -> C/16 and C/16 -> C, each with weights and biases.",
    giveaways=(r"SE block[^\n]{0,60}2048[^\n]{0,60}\b526,?464\b",),
)

@functools.cache
def _train_mode_drift() -> int:
    """How many of deepen(plain-8, 20)'s 10 classes' logits move by more than 1e-3, in train mode, on
    the first 64 shapes (seed 0): computed, for the exercise below."""
    import torch

    from ..experiments.degradation import shapes_task
    from ..experiments.identity import deepen
    from ..seeding import seed_everything

    seed_everything(0)
    small = cifar_resnet(8, residual=False, num_classes=10).eval()
    big = deepen(small, 20)
    (x, _), _ = shapes_task(64, 1, seed=0)
    small.train(), big.train()
    with torch.no_grad():
        return int(((small(x) - big(x)).abs() > 1e-3).any(dim=0).sum())


train_mode_drift = Exercise(
    name="train_mode_drift",
    question="Predict first: deepen(plain-8) to 20 layers is exact in eval mode. Put both nets in TRAIN mode and "
             "feed the first 64 shape images: of the 10 classes' logits, for how many does some image's logit "
             "change by more than 1e-3? Then compute it (seed_everything(0); small = cifar_resnet(8, "
             "residual=False, num_classes=10).eval(); big = deepen(small, 20); x = shapes_task(64, 1)[0][0]).",
    is_correct=lambda answer: equals(_train_mode_drift(), rel_tol=0)(answer),  # computed on first check
    hint="In train mode BatchNorm normalises with the batch's own mean and variance, not the running ones "
         "deepen set. Compute (small(x) - big(x)).abs() > 1e-3 under torch.no_grad(), per class.",
    giveaways=(r"\b(10|ten|all|every)\b[^\n.]{0,20}(of the )?(10 )?(classes|logits)[^\n.]{0,40}(change|move)",),
)

# The run the training exercise asks for: lesson 03's default recipe and schedule, smaller and quicker.
DEPTH_RUN = {"depths": (8, 20), "steps": 200, "images": 2000, "seed": 0}


@functools.cache
def plain_depth_gap() -> float:
    """plain-20 minus plain-8 final training error (train mode) after ``DEPTH_RUN``'s steps: the first
    steps of lesson 03's schedule (``degradation_experiment``), plain nets only, on the CPU."""
    from ..experiments.degradation import SCHEDULE_STEPS, degradation_experiment

    result = degradation_experiment(DEPTH_RUN["depths"], (DEPTH_RUN["seed"],), steps=DEPTH_RUN["steps"],
                                    schedule_steps=SCHEDULE_STEPS, n_train=DEPTH_RUN["images"],
                                    families=("plain",), device="cpu", show_progress=False)
    shallow, deep = (result.mean("plain", d, "final_train_error") for d in DEPTH_RUN["depths"])
    return deep - shallow


plain_depth_run = Exercise(
    name="plain_depth_run",
    question="Predict first, then measure: does depth alone slow a plain net down, or only a big jump in depth? "
             "Train plain-8 and plain-20 with lesson 03's recipe for the first 200 steps of its schedule "
             "(degradation_experiment((8, 20), (0,), steps=200, schedule_steps=SCHEDULE_STEPS, n_train=2000, "
             "families=('plain',), device='cpu'); cnnlessons.exercises.residual.DEPTH_RUN). Answer True if "
             "plain-20 ends with the higher final training error, False if not.",
    is_correct=lambda answer: isinstance(answer, bool) and answer == (plain_depth_gap() > 0),  # trains on first check
    hint="result.mean('plain', depth, 'final_train_error') is a net's final training error (train mode); compare "
         "depth 20 with depth 8. Training takes about a minute on a CPU.",
    giveaways=(r"plain-20[^\n]{0,80}(above|below|higher|lower)[^\n]{0,40}plain-8",
               r"plain-8[^\n]{0,80}(above|below|higher|lower)[^\n]{0,40}plain-20"),
)

LESSON_03 = (resnet32_params, identity_blocks, plain_bn_gamma, train_mode_drift, plain_depth_run)


@functools.cache
def _open_paths_after_9() -> float:
    import torch

    from ..models.cifar_resnet import BasicBlock, init_weights
    from ..models.preact import open_identity_paths

    torch.manual_seed(0)
    x = torch.relu(torch.randn(16, 16, 8, 8))
    blocks = nn.Sequential(*[BasicBlock(16, 16) for _ in range(9)])
    init_weights(blocks)
    return round(open_identity_paths(blocks, x), 2)


open_paths = Exercise(
    name="open_paths",
    question="Predict first: after 9 original (post-activation) residual blocks of 16 channels at He init, for "
             "what fraction of input units is the pure identity path still open: about 1, about a half, or "
             "less? Then compute it, rounded to 2 decimals (torch.manual_seed(0); x = torch.relu(torch.randn(16, "
             "16, 8, 8)); blocks = nn.Sequential(*[BasicBlock(16, 16) for _ in range(9)]); "
             "init_weights(blocks); open_identity_paths(blocks, x)).",
    is_correct=lambda answer: equals(_open_paths_after_9(), rel_tol=1e-9)(answer),  # computed on first check
    hint="Each block ends in relu(x + F(x)): the identity path of a unit survives only where that sum is "
         "positive, block after block. BasicBlock and init_weights are in cnnlessons.models.cifar_resnet, "
         "open_identity_paths in cnnlessons.models.preact.",
    giveaways=(r"(?<![\d.])0?\.28(?!\d)", r"(?<![\d.])28\s?%"),
)

# The runs the training exercise of lesson 04 asks for.
SMOOTHING_RUN = {"images": 2000, "steps": 200, "seed": 0, "depth": 8, "batch_size": 64}


@functools.cache
def smoothing_losses() -> tuple[float, float]:
    """Mean training loss over the last 20 steps without and with label smoothing 0.1: cifar_resnet(8) with
    8/16/32 filters trained with the paper's recipe at batch 64 (``SMOOTHING_RUN``), on the CPU."""
    from ..experiments.degradation import shapes_task
    from ..experiments.recipe import PAPER, run_recipe

    train, val = shapes_task(SMOOTHING_RUN["images"], 500)
    recipe = PAPER.with_(batch_size=SMOOTHING_RUN["batch_size"])
    losses = []
    for smoothing in (0.0, 0.1):
        run = run_recipe(recipe.with_(label_smoothing=smoothing), train, val, depth=SMOOTHING_RUN["depth"],
                         steps=SMOOTHING_RUN["steps"], seed=SMOOTHING_RUN["seed"], widths=(8, 16, 32), device="cpu",
                         show_progress=False)
        losses.append(sum(run.history.loss[-20:]) / 20)
    return losses[0], losses[1]


smoothing_loss = Exercise(
    name="smoothing_loss",
    question="Predict first, then measure: with label smoothing 0.1 the target puts 0.9 + 0.1/20 on the right class "
             "and 0.1/20 on each other one. Train cifar_resnet(8, widths=(8, 16, 32)) for 200 steps with the paper's "
             "recipe at batch 64, once as it is and once with PAPER.with_(label_smoothing=0.1) (seed 0, 2,000 "
             "shapes; cnnlessons.exercises.residual.SMOOTHING_RUN). Is the label-smoothed run's training loss (the "
             "mean of its last 20 steps) the higher of the two? Answer True or False.",
    is_correct=lambda answer: isinstance(answer, bool) and answer == (smoothing_losses()[1] > smoothing_losses()[0]),
    hint="run_recipe(recipe, train, val, depth=8, steps=200, seed=0, widths=(8, 16, 32)) with train, val = "
         "shapes_task(2000, 500); a run's per-step losses are run.history.loss. Think about the smallest loss each "
         "target allows.",
    giveaways=(r"label smoothing[^\n]{0,80}loss[^\n]{0,40}(higher|lower|above|below)",),
)

LESSON_04 = (bottleneck_weights, se_params, open_paths, smoothing_loss)
ALL = LESSON_03 + LESSON_04
