"""Every worked solution of lesson 05 passes its exercise check, and wrong answers fail."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from cnnlessons.exercises import giveaway_patterns
from cnnlessons.exercises import transfer as ex

ROOT = Path(__file__).resolve().parents[1]


def _load_solutions():
    spec = importlib.util.spec_from_file_location("solutions_05", ROOT / "solutions" / "05_transfer_learning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOLUTIONS


SOLUTIONS = _load_solutions()
NUMBERS = ("probe_parameters", "running_mean_step", "random_head")  # the others are answered with a function


def _answer(exercise):
    solution = SOLUTIONS[exercise.name]
    return solution() if exercise.name in NUMBERS else solution


def test_every_exercise_has_a_solution():
    assert {e.name for e in ex.ALL} == set(SOLUTIONS)


@pytest.mark.parametrize("exercise", ex.ALL, ids=lambda e: e.name)
def test_solution_passes(exercise):
    feedback = exercise.check(_answer(exercise))
    assert feedback.correct, feedback.message


def test_unanswered_gets_the_replace_hint():
    assert "Replace" in ex.probe_parameters.check(...).message


def test_wrong_answers_fail():
    right = SOLUTIONS["probe_parameters"]()
    assert not ex.probe_parameters.check(right - 8).correct  # the bias forgotten
    assert not ex.probe_parameters.check(right * 2).correct
    accuracy = SOLUTIONS["random_head"]()
    assert not ex.random_head.check(accuracy + 0.05).correct and not ex.random_head.check("below").correct
    assert not ex.running_mean_step.check(0.9).correct  # 1 - f: the weight kept, not the step

    def freeze_nothing(model):
        pass

    def freeze_everything(model):
        for p in model.parameters():
            p.requires_grad = False

    assert not ex.freeze_backbone.check(freeze_nothing).correct
    assert not ex.freeze_backbone.check(freeze_everything).correct

    def logits(model, x):  # the classifier's output, not its input
        return model(x)

    def stage2(model, x):
        with torch.no_grad():
            return model.layer2(model.layer1(model.relu(model.bn1(model.conv1(x))))).mean(dim=(2, 3))

    assert not ex.pooled_features.check(logits).correct
    assert not ex.pooled_features.check(stage2).correct


def test_the_random_head_ends_below_the_fitted_probe_it_replaces():
    """The exercise's point: LP-FT's fitted head beats a random one, same run otherwise."""
    from cnnlessons import zoo
    from cnnlessons.data import load_target
    from cnnlessons.experiments import transfer

    model, _ = zoo.load(ex.SOURCE)
    digits = transfer.Experiment(model, zoo.scratch_builder(ex.SOURCE), load_target("digits", size=16),
                                 transfer.Budget(epochs=3, lr_grids=transfer.lr_grids("one")))
    idx = digits.labelled(5, seed=1)
    net, _ = transfer.finetune_all(model, digits.probe(5, 1), digits.target.x_train[idx], digits.target.y_train[idx],
                                   lr=0.001, steps=digits.budget.steps(len(idx)),
                                   batch_size=digits.budget.batch(len(idx)), bn="frozen", seed=1)
    from_probe = (transfer.predict(net, digits.target.x_test) == digits.target.y_test).float().mean().item()
    assert SOLUTIONS["random_head"]() < from_probe


def test_every_exercise_declares_what_would_give_it_away():
    for exercise in ex.ALL:
        assert exercise.giveaways, exercise.name
    assert any("0\\.1" in p for p in giveaway_patterns(ex.running_mean_step, 0.1))
