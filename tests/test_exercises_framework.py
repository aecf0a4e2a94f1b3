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


def test_distinctive_numbers_are_found_in_their_usual_spellings():
    from cnnlessons.exercises import find_giveaways, giveaway_patterns

    ex = Exercise("depth", "Output depth of the third module?", equals(1504), hint="Add the widths.")
    assert find_giveaways(ex, 1504, "3  1088  1504  3.63") == ["1504"]
    assert find_giveaways(ex, 1504, "a depth of 1,504 channels") == ["1,504"]
    assert find_giveaways(ex, 1504, "21504, 1504.5, 15040 and 1.504") == []
    assert find_giveaways(ex, 1.2367, "grows by 1.237") == ["1.237"]
    # small numbers would match everywhere: only the exercise's own patterns find them
    assert giveaway_patterns(ex, 16) == () and giveaway_patterns(ex, 0.1) == () and giveaway_patterns(ex, True) == ()
    jump = Exercise("jump", "conv5's jump?", equals(16), hint="Multiply the strides.",
                    giveaways=(r"conv5\s+\d+\s*/\s*16\b",))
    assert find_giveaways(jump, 16, "conv4 131 / 16   conv5 163 / 16   pool5 195 / 32") == ["conv5 163 / 16"]
    assert find_giveaways(jump, 16, "16 layers, 16 filters") == []


def test_lazily_computes_the_expected_answer_once_at_the_first_check():
    from cnnlessons.exercises import lazily

    calls = []
    check = lazily(lambda: calls.append(1) or 42)
    assert calls == []
    assert check(42) and not check(41) and not check("42")
    assert calls == [1]
