"""Every worked solution of lesson 05 passes its exercise check, and wrong answers fail."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from cnnlessons.exercises import transfer as ex

ROOT = Path(__file__).resolve().parents[1]


def _load_solutions():
    spec = importlib.util.spec_from_file_location("solutions_05", ROOT / "solutions" / "05_transfer_learning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOLUTIONS


SOLUTIONS = _load_solutions()


def test_every_exercise_has_a_solution():
    assert {e.name for e in ex.ALL} == set(SOLUTIONS)


@pytest.mark.parametrize("exercise", ex.ALL, ids=lambda e: e.name)
def test_solution_passes(exercise):
    feedback = exercise.check(SOLUTIONS[exercise.name])
    assert feedback.correct, feedback.message


def test_unanswered_gets_the_replace_hint():
    assert "Replace" in ex.probe_parameters.check(...).message


def test_wrong_answers_fail():
    assert not ex.probe_parameters.check(64 * 8).correct
    assert not ex.probe_parameters.check(64 * 16 + 16).correct

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
