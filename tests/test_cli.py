"""The command line, run as a real subprocess against a real lesson (``00_welcome``) and a
tiny temporary lesson (registered by a small launcher script, so runs stay fast)."""
from __future__ import annotations

import ast
import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from cnnlessons.course import cli, doctor, runs
from cnnlessons.course.lessons import all_lessons, get_lesson
from cnnlessons.paths import build_dir, checkout

REPO_ROOT = checkout()

PYTHON = sys.executable
TINY_ID = "99_tiny"
TINY_MAX_WIDTH = 5  # the tiny lesson claims width <= 5, so width 9 is valid but fails its claims


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "TQDM_DISABLE": "1", **extra}
    env.pop("CNNLESSONS_REPORT", None)
    return env


def run_cli(*args: str, launcher: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    command = [PYTHON, str(launcher)] if launcher else [PYTHON, "-m", "cnnlessons.course.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=REPO_ROOT,
                          env=env or cli_env(), timeout=timeout)


def parameters_cell_values(notebook: Path) -> dict:
    """The literal assignments of a notebook's ``parameters`` cell (parsed here independently)."""
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body}


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*")) if folder.exists() else set()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A tiny lesson (notebook + launcher that registers it, then calls ``cli.main``)."""
    folder = tmp_path_factory.mktemp("tiny_lesson")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('seed = 0\ndevice = "auto"\nwidth = 3\nshape = "square"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A tiny lesson"),
        params,
        nbformat.v4.new_code_cell(textwrap.dedent(f"""\
            from cnnlessons import Claims
            claims = Claims()
            from cnnlessons.claims import at_most
            claims.check("width squared", width * width, width ** 2)
            claims.check("width at most {TINY_MAX_WIDTH}", width, at_most({TINY_MAX_WIDTH}))
            print(shape, width * width)
            claims.table()""")),
    ]
    nbformat.write(nb, folder / f"{TINY_ID}.ipynb")
    (folder / "launcher.py").write_text(textwrap.dedent(f"""\
        import sys
        from pathlib import Path

        import cnnlessons.course.lessons as registry
        from cnnlessons.params import DEVICE, SEED, Choice, Int


        class TinyLesson(registry.Lesson):
            @property
            def notebook(self):
                return Path(__file__).with_name("{TINY_ID}.ipynb")


        TINY = TinyLesson(id="{TINY_ID}", title="A tiny test lesson", summary="", presets={{"demo": {{"width": 2}}}},
                          valid={{"seed": SEED, "device": DEVICE, "width": Int(min=1, max=10),
                                  "shape": Choice(choices=("square", "disk"))}})
        registry.LESSONS = (*registry.LESSONS, TINY)

        from cnnlessons.course.cli import main

        sys.exit(main())
        """))
    return folder / "launcher.py"


# ----------------------------------------------------------------- parsing, without kernels

@pytest.mark.parametrize("text", ["True", "False", "None", "3", "-3", "1_000", "0.5", "1e-3", "nan",
                                  "false", "auto", "[3,3]", "3,3", ""])
def test_values_are_parsed_like_papermills_p(text):
    from papermill.cli import _resolve_type  # the reference: papermill's own -p parser

    expected = _resolve_type(text)
    got = runs.papermill_value(text)
    assert type(got) is type(expected)
    assert got == expected or (got != got and expected != expected)  # nan


def test_cli_values_round_trip_through_the_p_parser():
    from cnnlessons.params import IntList

    assert runs.cli_value([8, 32]) == "[8,32]"
    assert IntList().convert("depths", runs.papermill_value(runs.cli_value([8, 32]))) == [8, 32]
    for value in (0, 2.5, True, None, "auto"):
        assert runs.papermill_value(runs.cli_value(value)) == value


def test_a_folder_parameter_is_passed_as_an_absolute_path(tmp_path, monkeypatch):
    """The kernel runs in notebooks/, so a folder given relative to the caller is made absolute."""
    from cnnlessons.params import ChoiceOrPath

    spec = ChoiceOrPath(choices=("offline",))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "images").mkdir()
    assert runs._for_papermill(spec, "images", spec.convert("dataset", "images")) == str(tmp_path / "images")
    (tmp_path / "offline").mkdir()  # a choice stays a choice even if a folder has its name
    assert runs._for_papermill(spec, "offline", spec.convert("dataset", "offline")) == "offline"


def test_sweep_values_split_on_commas_outside_brackets():
    assert runs.split_values("1,2,3") == ["1", "2", "3"]
    assert runs.split_values("[3,3],[5, 5]") == ["[3,3]", "[5, 5]"]
    with pytest.raises(runs.UsageError, match="empty value"):
        runs.split_values("1,,2")


# ----------------------------------------------------------------- list

def test_list_shows_every_lesson_with_its_notebook_defaults():
    result = run_cli("list", "--json")
    assert result.returncode == 0, result.stderr
    listed = {entry["id"]: entry for entry in json.loads(result.stdout)}
    assert set(listed) == {lesson.id for lesson in all_lessons()}
    for lesson in all_lessons():
        entry = listed[lesson.id]
        assert list(entry["parameters"]) == list(lesson.valid)
        assert entry["presets"] == lesson.presets
        if lesson.notebook.is_file():
            defaults = parameters_cell_values(lesson.notebook)
            assert {name: p["default"] for name, p in entry["parameters"].items()} == \
                {name: defaults.get(name) for name in lesson.valid}
        for name, spec in lesson.valid.items():
            assert entry["parameters"][name]["valid"] == spec.describe()
        assert entry["effects"] == lesson.effects


def test_every_preset_says_what_it_changes_in_the_lesson(capsys):
    """Each preset of each lesson has an effects text (INSTRUCTORS.md and ``cnnlessons list``
    show it), and the text list prints it under the preset's values."""
    for lesson in all_lessons():
        assert set(lesson.effects) == set(lesson.presets), (lesson.id, sorted(lesson.effects), sorted(lesson.presets))
        assert all(len(text.split()) >= 6 for text in lesson.effects.values()), lesson.id
    assert cli.main(["list"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for lesson in all_lessons():
        for preset, text in lesson.effects.items():
            assert " ".join(text.split()) in out, (lesson.id, preset)
    instructors = (REPO_ROOT / "INSTRUCTORS.md").read_text()
    table = instructors.split("<!-- presets: cnnlessons list --markdown -->\n")[1].split("\n<!-- /presets -->")[0]
    assert table == cli.effects_table(all_lessons()), \
        "INSTRUCTORS.md's preset table is not the registry's: paste `cnnlessons list --markdown` between its markers"



def test_list_text_names_each_parameter_with_its_default(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for lesson in all_lessons():
        assert f"{lesson.id}  {lesson.title}" in out
        defaults = parameters_cell_values(lesson.notebook) if lesson.notebook.is_file() else None
        for name in lesson.valid:
            shown = runs.cli_value(defaults[name]) if defaults else "-"  # as written after -p
            assert any(line.split()[:3] == ["-p", name, shown] for line in out.splitlines()), (lesson.id, name)


# ----------------------------------------------------------------- execute --metadata-only

def test_execute_metadata_only_rederives_metadata_without_a_kernel(tmp_path, capsys):
    """``cnnlessons execute --metadata-only`` on a copy of a committed lesson: the tag-derived
    metadata (JupyterLab's collapsed cells, the slide types) is rewritten; every byte of the
    notebook outside cell metadata stays as it was; a second pass changes nothing."""
    from cnnlessons.course.notebooks import dumps, refresh_metadata

    lesson = next(p for p in (l.notebook for l in all_lessons()) if p.is_file())
    copy = tmp_path / lesson.name
    nb = json.loads(lesson.read_text())
    nb["cells"][0]["metadata"]["tags"] = ["remove-cell"]     # a tag set since the last execution
    nb["cells"][-1]["metadata"]["slideshow"] = {"slide_type": "skip"}  # and a stale hand-set type
    copy.write_text(dumps(nb))
    before = copy.read_text()
    assert cli.main(["execute", "--metadata-only", str(copy)]) == 0
    assert "metadata refreshed" in capsys.readouterr().out
    after = json.loads(copy.read_text())
    assert after["cells"][0]["metadata"]["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
    assert after == refresh_metadata(nb)

    def without_cell_metadata(text: str) -> str:
        book = json.loads(text)
        for cell in book["cells"]:
            cell["metadata"] = {}
        return dumps(book)
    assert without_cell_metadata(copy.read_text()) == without_cell_metadata(before)
    committed = lesson.read_text()
    assert committed == dumps(json.loads(committed))  # lessons are kept in the serialiser's form: outputs byte for byte
    assert cli.main(["execute", "--metadata-only", str(copy)]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert cli.main(["execute", "--metadata-only", str(tmp_path / "missing.ipynb")]) == 2


# ----------------------------------------------------------------- run: bad parameters

def test_run_rejects_a_bad_parameter_before_starting_a_kernel(tmp_path):
    """As a subprocess: exit status 2, a message naming the parameter and its valid values,
    and nothing written (neither the -o file nor anything under build/runs/)."""
    before = files_under((build_dir() / "runs"))
    out = tmp_path / "out" / "run.ipynb"
    result = run_cli("run", "00_welcome", "-p", "seed", "-1", "-o", str(out))
    assert result.returncode == 2
    assert "'seed'" in result.stderr and "an integer in [0, inf]" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert files_under((build_dir() / "runs")) == before


@pytest.mark.parametrize("args, message", [
    (["-p", "seed", "abc"], "parameter 'seed': got 'abc'"),
    (["-p", "seed", "1.5"], "parameter 'seed': got 1.5"),
    (["-p", "device", "gpu"], "parameter 'device': got 'gpu'"),
    (["-p", "nope", "1"], "unknown parameter(s) ['nope']; valid names: ['device', 'seed', 'steps']"),
])
def test_run_bad_parameters_in_process(args, message, tmp_path, capsys):
    out = tmp_path / "out.ipynb"
    assert cli.main(["run", "00_welcome", *args, "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_run_refuses_a_device_that_is_not_here(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA, so device='cuda' is valid here")
    assert cli.main(["run", "00_welcome", "-p", "device", "cuda", "-o", str(tmp_path / "o.ipynb")]) == 2
    assert "parameter 'device'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_run_never_writes_over_a_committed_lesson(capsys):
    lesson = get_lesson("00_welcome")
    before = lesson.notebook.read_bytes()
    assert cli.main(["run", "00_welcome", "-o", str(lesson.notebook)]) == 2
    assert "cnnlessons execute" in capsys.readouterr().err
    assert lesson.notebook.read_bytes() == before


def test_unknown_lesson_is_a_clear_error(capsys):
    assert cli.main(["run", "no_such_lesson"]) == 2
    err = capsys.readouterr().err
    assert "no lesson 'no_such_lesson'" in err and "00_welcome" in err


# ----------------------------------------------------------------- run and sweep: real kernels

@pytest.mark.slow
def test_run_executes_with_parameters_and_shows_progress(tiny, tmp_path):
    env = cli_env()
    env.pop("TQDM_DISABLE")  # progress is shown unless the user turned tqdm off
    out = tmp_path / "runs" / "tiny.ipynb"
    result = run_cli("run", TINY_ID, "--demo", "-p", "shape", "disk", "-o", str(out), launcher=tiny, env=env)
    assert result.returncode == 0, result.stderr
    assert "Executing" in result.stderr  # papermill's per-cell progress bar
    assert "done in" in result.stdout
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny.ipynb"]  # no temporary files left
    nb = nbformat.read(out, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'width = 2' in injected.source and 'shape = "disk"' in injected.source  # demo preset + -p
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "disk 4" in printed
    assert not any(o.output_type == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "papermill" not in nb.metadata  # cleaned like committed notebooks


@pytest.mark.slow
def test_sweep_runs_a_grid_in_parallel_and_reports_a_failed_run(tiny, tmp_path):
    out = tmp_path / "sweep"
    widths = [2, 3, 9]  # 9 is a valid value whose claim "width at most 5" fails in the notebook
    result = run_cli("sweep", TINY_ID, "-p", "width", ",".join(map(str, widths)), "-p", "shape", "disk",
                     "--jobs", "2", "-o", str(out), launcher=tiny)
    assert result.returncode == 1, result.stdout + result.stderr  # one run failed
    assert "1 of 3 run(s) FAILED: 3" in result.stderr

    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [int(r["width"]) for r in rows] == widths
    assert [r["shape"] for r in rows] == ["disk"] * 3
    assert [r["status"] for r in rows] == ["ok" if w <= TINY_MAX_WIDTH else "failed" for w in widths]
    assert [int(r["width squared"]) for r in rows] == [w * w for w in widths]  # claim values per run
    assert [r["claims_held"] for r in rows] == ["2/2" if w <= TINY_MAX_WIDTH else "1/2" for w in widths]
    assert "ClaimFailed" in rows[2]["error"] and rows[0]["error"] == ""

    long_rows = list(csv.DictReader((out / "claims.csv").open()))
    assert len(long_rows) == 2 * len(widths)
    markdown = (out / "summary.md").read_text()
    assert "| run | width | shape | status |" in markdown
    assert "## Failed runs" in markdown and "ClaimFailed" in markdown

    # Completed runs kept their notebooks; the failed one kept its notebook, with the error, beside.
    assert (out / "run-1.ipynb").is_file() and (out / "run-2.ipynb").is_file()
    assert not (out / "run-3.ipynb").exists()
    assert "FAILED" in (out / "run-3.log").read_text() and "run-3.failed.ipynb" in (out / "run-3.log").read_text()
    failed = nbformat.read(out / "run-3.failed.ipynb", as_version=4)
    errors = [o for c in failed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "ClaimFailed" and "width at most 5" in errors[0].evalue
    assert "run-3.failed.ipynb" in markdown
    for name in ("run-1.ipynb", "run-2.ipynb"):
        nb = nbformat.read(out / name, as_version=4)
        assert any("disk" in o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_sweep_checks_every_value_before_running_anything(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert cli.main(["sweep", "00_welcome", "-p", "seed", "0,1,-5", "-o", str(out)]) == 2
    assert "parameter 'seed': got -5" in capsys.readouterr().err
    assert not out.exists()
    assert cli.main(["sweep", "00_welcome", "-o", str(out)]) == 2
    assert "at least one -p" in capsys.readouterr().err


# ----------------------------------------------------------------- doctor

def test_doctor_reports_versions_device_and_online_extras_without_hanging():
    import torch

    from cnnlessons.device import get_device

    result = run_cli("doctor", "--timeout", "1", timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"torch        {torch.__version__}" in result.stdout
    assert f"auto -> {get_device('auto')}" in result.stdout
    lines = result.stdout.splitlines()
    for name, url, local in doctor.online_extras():
        at = lines.index(f"    {url}")
        assert lines[at - 1].strip() == name
        assert "reachable" in lines[at + 1]  # "reachable" or "unreachable (why)": an answer either way
        assert ("already here" if local.exists() else "not downloaded") in lines[at + 1]
