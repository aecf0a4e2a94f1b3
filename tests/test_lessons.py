"""Every lesson: structure, parameter validation, and a run with non-default parameters.

The committed outputs themselves are checked by strict nbval (``pytest --nbval notebooks``).
"""
from __future__ import annotations

import json

import pytest

from cnnlessons.course.lessons import all_lessons
from cnnlessons.course.notebooks import execute, parameters_cell
from cnnlessons.device import get_device
from cnnlessons.params import Bool, Choice, ChoiceOrPath, Device, Float, Int, IntList, ParameterError, validate
from cnnlessons.paths import notebooks_dir

from conftest import gpu_mode

LESSONS = all_lessons()
IDS = [lesson.id for lesson in LESSONS]


def load(lesson):
    return json.loads(lesson.notebook.read_text())


def test_every_notebook_is_a_registered_lesson():
    assert sorted(p.stem for p in notebooks_dir().glob("*.ipynb")) == sorted(IDS)


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_parameters_cell_matches_the_declared_specs(lesson):
    defaults = lesson.defaults()
    assert {"seed", "device"} <= set(defaults)
    assert list(defaults) == list(lesson.valid), "parameters cell and course/lessons.py name different parameters"
    validate(lesson.valid, defaults)  # the defaults themselves are valid
    assert {"demo", "full"} <= set(lesson.presets), "every lesson names a demo and a full preset"
    for name, preset in lesson.presets.items():  # and so is every preset
        validate(lesson.valid, {**defaults, **preset})


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_every_parameter_has_its_help_in_the_notebook(lesson):
    missing = [name for name, p in lesson.parameters().items() if len(p.help) < 8]
    assert not missing, f"{lesson.id}: give {missing} a '# help' comment in the parameters cell"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_validation_comes_right_after_the_parameters_cell(lesson):
    nb = load(lesson)
    cells = nb["cells"]
    index = cells.index(parameters_cell(nb))
    following = next(c for c in cells[index + 1:] if c["cell_type"] == "code")
    assert f'check_parameters("{lesson.id}"' in "".join(following["source"])


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_committed_notebook_is_executed_without_errors(lesson):
    code = [c for c in load(lesson)["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert all(c["execution_count"] for c in code), "unexecuted code cells"
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not [o for c in code for o in c["outputs"] if o.get("name") == "stderr"], "stderr in outputs"


def bad_value(spec):
    """A value each kind of spec must refuse."""
    if isinstance(spec, Device):
        return "tpu"
    if isinstance(spec, IntList):
        return []
    if isinstance(spec, (Int, Float)):
        return (spec.min - 1) if spec.min is not None else "not a number"
    if isinstance(spec, (Choice, ChoiceOrPath)):
        return "no-such-choice"
    if isinstance(spec, Bool):
        return "false"
    raise AssertionError(f"no bad value known for {spec!r}")


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_every_parameter_refuses_a_bad_value_naming_itself(lesson):
    defaults = lesson.defaults()
    for name, spec in lesson.valid.items():
        with pytest.raises(ParameterError) as err:
            validate(lesson.valid, {**defaults, name: bad_value(spec)})
        assert f"'{name}'" in str(err.value) and "valid values" in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_papermill_run_with_a_bad_device_stops_at_validation(lesson, tmp_path):
    out = tmp_path / "out.ipynb"
    with pytest.raises(Exception) as err:
        execute(lesson.notebook, out, parameters={"device": "tpu"}, progress=False)
    assert "parameter 'device'" in str(err.value) and "'cpu'" in str(err.value)
    assert not out.exists()  # nothing half-written


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_runs_with_non_default_parameters(lesson, tmp_path, monkeypatch):
    """The demo preset (small sizes) with other seeds finishes and its claims hold: ``seed`` 1, and
    where the lesson trains over a ``seeds`` list, as many seeds as the demo runs, none of them
    one the committed notebook ran (03: [2], 04: [2], 05: [3, 4]).

    In GPU mode (CNNLESSONS_DEVICE=cuda) the lesson must also prove it ran on CUDA.
    """
    report = tmp_path / "report.json"
    monkeypatch.setenv("CNNLESSONS_REPORT", str(report))
    params = {**lesson.preset("demo"), "seed": 1}
    if "seeds" in params:
        first = max(lesson.defaults()["seeds"]) + 1
        params["seeds"] = list(range(first, first + len(params["seeds"])))
    execute(lesson.notebook, tmp_path / "out.ipynb", parameters=params, progress=False)
    result = json.loads(report.read_text())
    assert result["all_hold"]
    if gpu_mode():
        assert result["devices_used"] == ["cuda"], f"{lesson.id} did not run on CUDA: {result['devices_used']}"
        assert result["cuda_max_memory_allocated"] > 0, f"{lesson.id} allocated no CUDA memory"
    else:
        assert result["devices_used"] == [get_device("auto").type]
