"""The course as an installed package: a wheel, installed outside the checkout, finds its
lessons and its model zoo as package data and runs a lesson.

The wheel is built offline (``--no-build-isolation``: hatchling comes with the test extras)
and installed without dependencies into a fresh virtual environment, which borrows this
environment's third-party packages through a ``.pth`` line (so no 5 GB torch download). The
checkout itself is on none of its paths.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from cnnlessons.paths import checkout

pytestmark = pytest.mark.slow
ROOT = checkout()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment with the wheel of this checkout installed; returns its bin/."""
    if ROOT is None:
        pytest.skip("needs a checkout to build the wheel from")
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(work / "dist"), str(ROOT)], check=True, cwd=work)
    wheel = next((work / "dist").glob("cnnlessons-*.whl"))
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, cwd=work)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir / "bin"


def run(bin_dir: Path, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CNNLESSONS_HOME", "VIRTUAL_ENV")}
    env["TQDM_DISABLE"] = "1"
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


def test_the_wheel_carries_the_lessons_and_the_zoo(installed, tmp_path):
    code = ("import json, cnnlessons, cnnlessons.paths as p; from cnnlessons import zoo; "
            "model, meta = zoo.load('shapes_resnet8'); "
            "print(json.dumps([cnnlessons.__file__, str(p.course_root()), p.checkout() is None, "
            "sorted(x.name for x in p.notebooks_dir().glob('*.ipynb')), meta['name']]))")
    result = run(installed, "python", "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    package, course, not_a_checkout, notebooks, name = json.loads(result.stdout)
    assert not package.startswith(str(ROOT)) and str(installed.parent) in package
    assert course.endswith("cnnlessons/_course") and not_a_checkout
    assert notebooks == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert name == "shapes_resnet8"


def test_cnnlessons_list_and_a_lesson_run_outside_the_checkout(installed, tmp_path):
    listed = run(installed, "cnnlessons", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [entry["id"] for entry in json.loads(listed.stdout)][0] == "00_welcome"
    out = tmp_path / "welcome.ipynb"
    runs = ROOT / "build" / "runs"
    before = sorted(runs.rglob("*")) if runs.exists() else []
    ran = run(installed, "cnnlessons", "run", "00", "--preset", "demo", "-p", "device", "cpu", "--quiet",
              "-o", str(out), cwd=tmp_path, timeout=600)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors
    # the run wrote where it was told, and nothing into the checkout's build/runs/
    assert (sorted(runs.rglob("*")) if runs.exists() else []) == before
