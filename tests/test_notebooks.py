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


def test_tags_decide_jupyterlabs_collapsed_cells():
    """remove-cell: source and outputs collapsed; remove-input: the source; any other cell opens
    in full (a collapse set by hand goes), and other ``jupyter`` metadata is kept."""
    cell = lambda tags, **jupyter: {"cell_type": "code", "source": "x", "outputs": [], "execution_count": 1,  # noqa: E731
                                    "metadata": {"tags": tags, **({"jupyter": jupyter} if jupyter else {})}}
    nb = {"metadata": {}, "nbformat": 4, "nbformat_minor": 5, "cells": [
        cell(["remove-cell"]), cell(["remove-input", "nbval-ignore-output"]), cell([], source_hidden=True),
        cell([], source_hidden=True, some_other_key=1)]}
    out = [c["metadata"].get("jupyter") for c in clean(nb)["cells"]]
    assert out == [{"source_hidden": True, "outputs_hidden": True}, {"source_hidden": True}, None, {"some_other_key": 1}]
    assert [c["metadata"]["slideshow"]["slide_type"] for c in clean(nb)["cells"]] == ["skip", "skip", "skip", "skip"]


def test_refresh_file_writes_metadata_only_and_atomically(tmp_path, monkeypatch):
    from cnnlessons.course import notebooks

    nb = {"metadata": {}, "nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "markdown", "metadata": {"tags": ["remove-cell"]}, "source": "# Title"}]}
    path = tmp_path / "n.ipynb"
    path.write_text(dumps(nb))
    assert notebooks.refresh_file(path) is True
    assert json.loads(path.read_text())["cells"][0]["metadata"]["jupyter"]["source_hidden"] is True
    assert notebooks.refresh_file(path) is False
    before = path.read_text()
    broken = lambda book: {**book, "cells": [{**book["cells"][0], "source": "changed"}]}  # noqa: E731
    monkeypatch.setattr(notebooks, "refresh_metadata", broken)
    with pytest.raises(RuntimeError, match="would change a cell's content"):
        notebooks.refresh_file(path)
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["n.ipynb"]
    monkeypatch.undo()
    path.write_text(json.dumps(json.loads(before), ensure_ascii=True))  # written by another tool
    with pytest.raises(RuntimeError, match="not in the form cnnlessons execute writes"):
        notebooks.refresh_file(path)


@pytest.mark.slow
def test_a_failed_runs_notebook_is_written_atomically(tmp_path, monkeypatch):
    """The failed notebook kept beside a run goes through cnnlessons.io's atomic write."""
    import cnnlessons.course.notebooks as notebooks

    written = []
    monkeypatch.setattr(notebooks, "atomic_write_text", lambda path, text: written.append((path, text)))
    path = make_notebook(tmp_path / "bad.ipynb", "raise RuntimeError('boom')")
    with pytest.raises(Exception, match="boom"):
        execute(path, progress=False, keep_failed=tmp_path / "bad.failed.ipynb")
    assert [p for p, _ in written] == [tmp_path / "bad.failed.ipynb"] and "boom" in written[0][1]


@pytest.mark.slow
def test_nbval_still_compares_hidden_cells(tmp_path):
    """Hiding is for readers only: strict nbval runs a ``remove-cell`` / ``remove-input`` cell and
    compares its output like any other (a wrong committed output fails the run)."""
    import subprocess
    import sys

    def notebook(printed: str) -> str:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        stream = nbformat.v4.new_output("stream", name="stdout", text=printed)
        nb.cells = [nbformat.v4.new_code_cell("print(6 * 7)", outputs=[stream], execution_count=1,
                                              metadata={"tags": ["remove-cell"]}),
                    nbformat.v4.new_code_cell("print('shown')", execution_count=2, metadata={"tags": ["remove-input"]},
                                              outputs=[nbformat.v4.new_output("stream", name="stdout", text="shown\n")])]
        return dumps(clean(json.loads(nbformat.writes(nb))))

    results = {}
    for name, printed in (("right", "42\n"), ("wrong", "41\n")):
        path = tmp_path / f"{name}.ipynb"
        path.write_text(notebook(printed))
        results[name] = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval",
                                        "--nbval-current-env", str(path)], capture_output=True, text=True, cwd=tmp_path)
    assert results["right"].returncode == 0, results["right"].stdout[-2000:]
    assert results["wrong"].returncode == 1 and "41" in results["wrong"].stdout, results["wrong"].stdout[-2000:]
