import pytest
import torch

from cnnlessons import ParameterError
from cnnlessons.course import check_parameters
from cnnlessons.params import Bool, Choice, ChoiceOrPath, Float, Int, IntList, validate


def test_int_bounds_and_types():
    spec = Int(min=1, max=10)
    assert spec.convert("n", 3) == 3
    assert spec.convert("n", "4") == 4
    for bad in (0, 11, 2.5, True, "x"):
        with pytest.raises(ParameterError, match=r"parameter 'n'.*integer in \[1, 10\]"):
            spec.convert("n", bad)


def test_float_bounds():
    spec = Float(min=0.0, min_exclusive=True)
    assert spec.convert("lr", 0.1) == 0.1
    assert spec.convert("lr", 1) == 1.0
    for bad in (0.0, -1, "abc", float("nan"), None):
        with pytest.raises(ParameterError, match="'lr'"):
            spec.convert("lr", bad)


def test_choice_names_the_valid_values():
    spec = Choice(choices=("shipped", "imagenet", "none"))
    assert spec.convert("weights", "none") == "none"
    with pytest.raises(ParameterError, match="'weights'.*'shipped', 'imagenet', 'none'"):
        spec.convert("weights", "imagnet")


def test_bool_refuses_papermill_strings():
    assert Bool().convert("flag", False) is False
    with pytest.raises(ParameterError, match="-y"):
        Bool().convert("flag", "false")


def test_int_list():
    spec = IntList(item=Int(min=1))
    assert spec.convert("depths", [8, 32]) == [8, 32]
    assert spec.convert("depths", 8) == [8]
    assert spec.convert("depths", "8,32") == [8, 32]
    for bad in ([], [0], "a,b", [1.5]):
        with pytest.raises(ParameterError, match="'depths'"):
            spec.convert("depths", bad)


def test_choice_or_path(tmp_path):
    spec = ChoiceOrPath(choices=("digits",))
    assert spec.convert("dataset", "digits") == "digits"
    assert spec.convert("dataset", str(tmp_path)) == str(tmp_path)
    with pytest.raises(ParameterError, match="existing folder"):
        spec.convert("dataset", str(tmp_path / "missing"))


def test_validate_rejects_unknown_and_missing_names():
    specs = {"a": Int(), "b": Int()}
    assert vars(validate(specs, {"a": 1, "b": 2})) == {"a": 1, "b": 2}
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) \['c'\]"):
        validate(specs, {"a": 1, "b": 2, "c": 3})
    with pytest.raises(ParameterError, match=r"missing parameter\(s\) \['b'\]"):
        validate(specs, {"a": 1})


def test_check_parameters_resolves_the_device():
    p = check_parameters("00_welcome", seed=1, device="cpu", steps=150)
    assert p.seed == 1 and p.device == torch.device("cpu") and p.steps == 150
    with pytest.raises(ParameterError, match="'device'.*'auto', 'cpu', 'cuda'"):
        check_parameters("00_welcome", seed=1, device="tpu", steps=150)
    with pytest.raises(ParameterError, match="'seed'"):
        check_parameters("00_welcome", seed=-1, device="cpu", steps=150)
    with pytest.raises(ParameterError, match="'steps'"):  # too few to show the loss halving
        check_parameters("00_welcome", seed=1, device="cpu", steps=20)
    with pytest.raises(KeyError, match="no lesson"):
        check_parameters("99_nothing", seed=1, device="cpu")


def test_choice_aliases_resolve_to_the_canonical_name():
    spec = Choice(choices=("imagenet_resnet18", "none"), aliases={"imagenet": "imagenet_resnet18"})
    assert spec.convert("weights", "imagenet") == "imagenet_resnet18"
    with pytest.raises(ParameterError, match="'imagenet' \\(= 'imagenet_resnet18'\\)"):
        spec.convert("weights", "imagnet")
