"""Exercises for lesson 00, the welcome: predict first, then check by computing."""
from __future__ import annotations

from . import Exercise, equals

prefix_draws = Exercise(
    name="prefix_draws",
    question="Predict, then check: after seed_everything(0) you draw torch.randn(3); after "
             "seed_everything(0) again you draw torch.randn(5). Are the first three numbers of the "
             "second draw the same as the first draw? Answer True or False, computed.",
    is_correct=lambda answer: answer is True,
    hint="Compute it: torch.equal(first, second[:3]). A seeded generator produces one fixed stream "
         "of numbers; a draw takes the next ones from it.",
)

layers_for_window = Exercise(
    name="layers_for_window",
    question="Predict, then check: how many stacked 3x3 convolutions (stride 1) does a unit need "
             "to see a 15x15 window of the input?",
    is_correct=equals(7, rel_tol=0.0),
    hint="Each layer widens the window by 2, starting from 3x3 for one layer; check your guess with "
         "describe_stack(n) for a few n.",
)

ALL = (prefix_draws, layers_for_window)
