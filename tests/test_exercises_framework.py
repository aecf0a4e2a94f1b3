from cnnlessons.exercises import Exercise, equals


def test_exercise_feedback_never_reveals_the_answer():
    ex = Exercise("rf", "Receptive field of three 3x3 convs?", equals(7), hint="Each layer adds k - 1.")
    assert ex.check(7).correct
    wrong = ex.check(9)
    assert not wrong.correct and "k - 1" in wrong.message and "7" not in wrong.message
    assert "Replace" in ex.check(...).message
    assert not ex.check("seven").correct


def test_equals_tolerates_float_rounding():
    assert equals(0.3)(0.1 + 0.2)
    assert not equals(0.3)(0.31)
    assert not equals(1)(True)


def test_integers_must_match_exactly():
    assert equals(22 * 256**2)(22 * 256**2)
    assert not equals(22 * 256**2)(22 * 256**2 + 1)
    assert equals(1000, rel_tol=0.01)(1005)
