import pytest
import torch

from cnnlessons import DeviceUnavailableError, get_device
from cnnlessons.device import ENV_VAR


def test_auto_picks_an_available_device(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        expected = "mps"
    assert get_device("auto").type == expected


def test_cpu_is_always_there():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(" CPU ") == torch.device("cpu")


@pytest.mark.parametrize("bad", ["tpu", "gpu", "", "cuda:x", "auto:0"])
def test_unknown_name_lists_valid_choices(bad):
    with pytest.raises(ValueError) as err:
        get_device(bad)
    assert "'auto', 'cpu', 'cuda'" in str(err.value)


def test_non_string_is_rejected():
    with pytest.raises(ValueError, match="device must be a string"):
        get_device(0)  # type: ignore[arg-type]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_an_error_not_a_fallback():
    with pytest.raises(DeviceUnavailableError, match="CUDA is not available.*device='cpu'"):
        get_device("cuda")


def test_environment_variable_steers_auto(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "cpu")
    assert get_device("auto") == torch.device("cpu")
    monkeypatch.setenv(ENV_VAR, "tpu")
    with pytest.raises(ValueError, match=ENV_VAR):
        get_device("auto")


def test_explicit_choice_beats_environment(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "tpu")
    assert get_device("cpu") == torch.device("cpu")
