"""The notebook pipeline: atomic execution, volatile metadata stripped, stable widget ids."""
import json
import os

import nbformat
import pytest

from cnnlessons.course.lessons import notebook_parameters
from cnnlessons.course.notebooks import clean, dumps, execute, quiet_environment


def make_notebook(path, *sources, params="x = 1"):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell] + [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


@pytest.mark.slow
def test_execute_in_place_strips_volatile_metadata_and_is_repeatable(tmp_path):
    path = make_notebook(tmp_path / "ok.ipynb", "print(x * 2)")
    execute(path, progress=False)
    first = path.read_text()
    nb = json.loads(first)
    assert nb["cells"][1]["outputs"][0]["text"] in ("2\n", ["2\n"])
    assert "papermill" not in nb["metadata"]
    assert all("execution" not in c["metadata"] and "papermill" not in c["metadata"] for c in nb["cells"])
    execute(path, progress=False)
    assert path.read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.ipynb"]  # no temporary files left


@pytest.mark.slow
def test_the_kernel_log_stays_off_the_console(tmp_path, capfd):
    """ipykernel >= 7 logs a transport-encryption warning at every start; a student running
    the course should see the lessons' progress, not a kernel's log."""
    path = make_notebook(tmp_path / "ok.ipynb", "print(x * 2)")
    execute(path, progress=False)
    err = capfd.readouterr().err
    assert "IPKernelApp" not in err and "WARNING" not in err, err


@pytest.mark.slow
def test_failed_run_leaves_the_notebook_untouched(tmp_path):
    path = make_notebook(tmp_path / "bad.ipynb", "raise RuntimeError('boom')")
    before = path.read_bytes()
    with pytest.raises(Exception, match="boom"):
        execute(path, progress=False)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ipynb"]


@pytest.mark.slow
def test_parameters_are_injected(tmp_path):
    path = make_notebook(tmp_path / "p.ipynb", "print(x * 2)")
    out = tmp_path / "out.ipynb"
    execute(path, out, parameters={"x": 21}, progress=False)
    nb = json.loads(out.read_text())
    assert nb["cells"][-1]["outputs"][0]["text"] in ("42\n", ["42\n"])


def widget_notebook(ids):
    view = lambda i: {"output_type": "display_data", "metadata": {}, "data": {  # noqa: E731
        "application/vnd.jupyter.widget-view+json": {"model_id": i, "version_major": 2, "version_minor": 0}}}
    a, b, orphan = ids
    state = {orphan: {"state": {}}, b: {"state": {"layout": "IPY_MODEL_" + a}}, a: {"state": {}}}
    return {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": state}}},
            "nbformat": 4, "nbformat_minor": 5,
            "cells": [{"cell_type": "code", "metadata": {"execution": {"t": 1}}, "outputs": [view(b)], "source": ""}]}


def test_widget_ids_become_stable_and_orphans_go():
    one = clean(widget_notebook(["aa11", "bb22", "cc33"]))
    two = clean(widget_notebook(["dd44", "ee55", "ff66"]))
    assert dumps(one) == dumps(two)
    state = one["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert len(state) == 2  # the orphan is dropped
    assert one["cells"][0]["metadata"] == {"slideshow": {"slide_type": "slide"}}  # timing gone, slide added


def test_notebook_parameters_reads_defaults_and_help_from_the_parameters_cell(tmp_path):
    path = make_notebook(tmp_path / "d.ipynb", params="seed = 3  # the seed\ndevice = 'auto'\nsizes = [1, 2]  # sizes")
    assert notebook_parameters(path) == {"seed": (3, "the seed"), "device": ("auto", ""), "sizes": ([1, 2], "sizes")}
    nb = nbformat.v4.new_notebook()
    nbformat.write(nb, str(tmp_path / "none.ipynb"))
    assert notebook_parameters(tmp_path / "none.ipynb") == {}


def test_quiet_environment_restores_the_callers_environment(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "0")
    with quiet_environment():
        assert os.environ["TQDM_DISABLE"] == "1" and os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] == "1"
    assert "TQDM_DISABLE" not in os.environ and os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] == "0"


def test_clean_drops_the_python_patch_version():
    nb = {"metadata": {"language_info": {"name": "python", "version": "3.11.7"}}, "nbformat": 4, "nbformat_minor": 5,
          "cells": []}
    assert clean(nb)["metadata"]["language_info"] == {"name": "python"}


def test_consecutive_prints_are_merged_into_one_output():
    stream = lambda text: {"output_type": "stream", "name": "stdout", "text": text}  # noqa: E731
    nb = {"metadata": {}, "nbformat": 4, "nbformat_minor": 5, "cells": [{
        "cell_type": "code", "metadata": {}, "source": "",
        "outputs": [stream(["a\n"]), stream("b\nc\n"), {"output_type": "stream", "name": "stderr", "text": "w\n"},
                    stream("d\n")]}]}
    outputs = clean(nb)["cells"][0]["outputs"]
    assert [o["name"] for o in outputs] == ["stdout", "stderr", "stdout"]
    assert outputs[0]["text"] == ["a\n", "b\n", "c\n"]


def test_clean_gives_rise_settings_that_work_offline_and_keeps_a_lessons_own():
    from cnnlessons.course.notebooks import RISE_SETTINGS

    nb = {"metadata": {}, "nbformat": 4, "nbformat_minor": 5, "cells": []}
    assert clean(nb)["metadata"]["rise"] == RISE_SETTINGS and RISE_SETTINGS["theme"] != "simple"
    own = {"metadata": {"rise": {"theme": "sky"}}, "nbformat": 4, "nbformat_minor": 5, "cells": []}
    assert clean(own)["metadata"]["rise"] == {"theme": "sky"}
