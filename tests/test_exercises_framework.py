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


def test_reveal_compares_a_prediction_with_the_answer():
    from cnnlessons.exercises import reveal

    assert reveal(..., 11).verdict == "none" and "no prediction" in repr(reveal(..., 11))
    assert reveal(11, 11).verdict == "right" and bool(reveal(11, 11))
    assert reveal(12, 11).verdict == "close"          # within 25%
    assert reveal(30, 11).verdict == "wrong" and not reveal(30, 11)
    assert reveal(0.28, 0.2801, rel_tol=0.01).verdict == "right"
    assert reveal(" Plain-32", "plain-32").verdict == "right"
    assert reveal(["b", "a"], ["a", "b"]).verdict == "wrong"     # a ranking must match in order
    assert "**1,504**" in reveal(1000, 1504)._repr_markdown_()
    assert reveal(True, 1).verdict == "wrong"                     # a bool is not a number here
