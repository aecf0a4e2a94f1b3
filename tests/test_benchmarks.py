"""The benchmarks run at tiny sizes and write both result files (numbers are not checked:
timings belong to benchmarks, not tests); the pieces they rely on compute the right thing."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

# ``benchmarks`` is a top-level folder (``python -m benchmarks.run``), importable in the tests
# through ``pythonpath`` in pyproject.toml.
from benchmarks import lessons, report, run, training
from benchmarks.flops import bf16_peak_tflops, forward_macs
from cnnlessons import train
from cnnlessons.data import make_shapes
from cnnlessons.train import Batches, fit  # noqa: E402

TINY = ["--quick", "--steps", "2", "--repeats", "1", "--batch-size", "4", "--images", "8", "--size", "8",
        "--gen-images", "4", "--models", "linear,small_cnn"]


def test_quick_run_writes_markdown_and_json_with_every_section(tmp_path, capsys):
    assert run.main([*TINY, "--out", str(tmp_path)]) == 0
    md = (tmp_path / "results.md").read_text()
    results = json.loads((tmp_path / "results.json").read_text())
    for title in ("## Environment", "## 1. Lesson wall times", "## 2. Training throughput",
                  "## 3. CUDA", "## 4. Data"):
        assert title in md
    assert md in capsys.readouterr().out  # the table is printed too
    assert set(results["sections"]) == {"lessons", "training", "cuda", "data"}
    assert "skipped" in results["sections"]["lessons"]  # --quick skips the lessons
    env = results["environment"]
    for key in ("date_utc", "cpu", "cpu_cores", "python", "torch"):
        assert env[key]
    for name in ("linear", "small_cnn"):
        model = results["sections"]["training"]["models"][name]
        assert {r["variant"] for r in model["rows"]} == {"bare loop", "fit", "fit, progress bar drawn"}
        assert model["fit_vs_bare"]["ratio"] > 0
    if torch.cuda.is_available():
        assert results["sections"]["cuda"]["rows"]
    else:
        assert results["sections"]["cuda"] == {"skipped": "no CUDA"}
        assert "skipped: no CUDA" in md
    data = results["sections"]["data"]
    assert data["generation"]["images"] == 4 and data["generation"]["images_per_s"] > 0
    assert set(data["loading"]["per_model"]) == {"linear", "small_cnn"}
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes left no temporary files


def test_sections_option_runs_only_the_chosen_sections(tmp_path):
    assert run.main([*TINY, "--sections", "data", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["sections"]) == {"data"}
    assert "loading" not in results["sections"]["data"]  # needs the training section's step time
    assert "skipped: not requested" in (tmp_path / "results.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--sections", "training,gpu"], "--sections must be a comma-separated list"),
    (["--models", "vgg"], "--models must be a comma-separated list"),
    (["--steps", "0"], "must be a positive integer"),
])
def test_bad_options_name_the_option_and_the_valid_values(argv, message, capsys):
    with pytest.raises(SystemExit):
        run.main(argv)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("model_name", ["small_cnn", "resnet20"])
def test_bare_loop_does_exactly_fits_work(model_name):
    """Same model, data order, batch size and optimizer: identical losses on the CPU, so the
    throughput ratio compares only the loops' bookkeeping."""
    x, y = make_shapes(12, size=16, seed=3)
    model_a, model_b = training.build_model(model_name, 16), training.build_model(model_name, 16)
    bare = training.bare_loop(model_a, x, y, training.make_optimizer(model_a), steps=5, batch_size=5)
    history = fit(model_b, Batches(x, y, 5, seed=0), training.make_optimizer(model_b), steps=5,
                  show_progress=False)
    assert [loss.item() for loss in bare] == history.loss  # 5 steps cross an epoch (3 batches/pass)
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(p, q)


def test_float32_switch_reaches_fit():
    assert training.precision(False) == {"mixed_precision": False}
    assert train._fast_cuda(torch.device("cuda"), None)
    assert not train._fast_cuda(torch.device("cuda"), False)
    assert not train._fast_cuda(torch.device("cpu"), True)


def test_cuda_section_code_path_runs_and_renders_on_the_cpu():
    """The GPU section cannot run here; its code (variants, MAC rate, ratios, table) can."""
    section = training.cuda_precision("small_cnn", batch_size=4, steps=1, repeats=1, images=8, size=8,
                                      device="cpu")
    assert {r["variant"] for r in section["rows"]} == {
        "fit (bf16 + channels_last)", "fit (float32)", "bare loop (bf16 + channels_last)", "bare loop (float32)"}
    assert section["bf16_dense_peak_tflops"] is None  # a CPU is not in the GPU table
    row = section["rows"][0]
    expected = 3 * section["forward_macs_per_image"] * row["images_per_s"] / 1e12
    assert row["tera_mac_per_s"] == pytest.approx(expected)
    text = "\n".join(report.cuda(section))
    assert "fit: bf16+CL / float32" in text and "unknown (not in the table)" in text


def test_mac_count_matches_the_hand_formula():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, groups=2),
                          nn.Flatten(), nn.Linear(8 * 3 * 3, 5))
    conv1 = 8 * 8 * 8 * 3 * 3 * 3          # H_out W_out C_out C_in k k
    conv2 = 3 * 3 * 8 * (8 // 2) * 3 * 3   # grouped: C_in / groups inputs per output
    fc = 8 * 3 * 3 * 5
    assert forward_macs(model, (2, 3, 8, 8)) == (conv1 + conv2 + fc, "cnnlessons.analysis.count")


def test_resnet20_macs_agree_with_the_known_cifar_figure():
    # He et al.'s ResNet-20 for 32x32 CIFAR: about 41M multiply-adds per image (commonly quoted 40.8M).
    macs, _ = forward_macs(training.build_model("resnet20", 32), (1, 3, 32, 32))
    assert 40e6 < macs < 42e6


@pytest.mark.parametrize("model_name", ["small_cnn", "resnet20"])
def test_counting_leaves_the_model_as_it_was(model_name):
    """The benchmark counts with the library's counter in eval mode and restores train mode and weights."""
    model = training.build_model(model_name, 32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    macs, source = forward_macs(model, (1, 3, 32, 32))
    assert macs > 0 and source == "cnnlessons.analysis.count"
    assert model.training and all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_peak_table_picks_the_most_specific_name():
    assert bf16_peak_tflops("NVIDIA H100 PCIe") == 756.5
    assert bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.5
    assert bf16_peak_tflops("NVIDIA H200") == 989.5
    assert bf16_peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert bf16_peak_tflops("NVIDIA A10") == 125.0
    assert bf16_peak_tflops("NVIDIA L40S") == 362.05
    assert bf16_peak_tflops("Some Future GPU") is None


@pytest.mark.slow
def test_lesson_timing_runs_a_notebook_through_papermill_into_a_temporary_folder(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("n = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("assert n == 2")]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()
    result = lessons.time_notebooks([("tiny", path, {"n": 2}), ("broken", path, {"n": 3}),
                                     ("absent", tmp_path / "absent.ipynb", None)], startup=True, repeats=2)
    ok, broken, absent = result["rows"]  # the start-up row is kept apart, out of the totals
    assert result["startup_s"] > 0  # a kernel that imported torch, torchvision and the course
    assert ok["runs"] == 2 and broken["runs"] == 0  # a short run is repeated and its median kept
    assert ok["status"] == "ok" and ok["seconds"] > 0 and ok["cpu_seconds"] > 0  # the kernel's CPU time
    assert broken["status"].startswith("failed: PapermillExecutionError")
    assert absent["status"] == "skipped: notebook missing"
    assert result["lessons_run"] == 1 and result["total_s"] == ok["seconds"]
    assert path.read_text() == before  # the source notebook is untouched


def test_lesson_jobs_time_each_lesson_at_its_defaults_and_its_demo_preset_side_by_side():
    jobs = lessons.lesson_jobs(["00_welcome", "01_receptive_fields"], mode="both")
    assert [(j[0], j[3]) for j in jobs] == [("00_welcome", "default"), ("00_welcome", "demo"),
                                           ("01_receptive_fields", "default"), ("01_receptive_fields", "demo")]
    assert jobs[0][2] is None and jobs[3][2] == lessons.get_lesson("01_receptive_fields").preset("demo")
    assert [j[3] for j in lessons.lesson_jobs(["00_welcome"], demo=True)] == ["demo"]


def test_the_lesson_table_has_a_total_per_preset_and_timings_reads_it_back(tmp_path):
    from cnnlessons.course.timings import lesson_times

    section = {"rows": [{"lesson": "00_welcome", "parameters": "default", "seconds": 20.0, "status": "ok"},
                        {"lesson": "00_welcome", "parameters": "demo", "seconds": 8.0, "status": "ok"},
                        {"lesson": "01_receptive_fields", "parameters": "default", "seconds": 30.0, "status": "ok"},
                        {"lesson": "01_receptive_fields", "parameters": "demo", "seconds": None,
                         "status": "failed: RuntimeError: x"}],
               "total_s": 58.0, "lessons_run": 3, "lessons": 4, "total_by_preset": {"default": 50.0, "demo": 8.0}}
    text = "\n".join(report.lessons(section))
    assert "| **total** (2 of 2 ran) | default | 50.0 |" in text and "| **total** (1 of 2 ran) | demo | 8.0 |" in text
    assert text.splitlines()[0] == "| lesson | parameters | seconds | CPU seconds | runs | status |"
    assert "Demo preset against default" in text and "| 00_welcome | 20.0 | 8.0 | 0.40 | n/a |" in text
    section["startup_s"] = 5.0  # with a start-up row: the ratio above it is (8 - 5) / (20 - 5)
    text = "\n".join(report.lessons(section))
    assert "| start-up (kernel + imports) | - | 5.0 |" in text and "| 00_welcome | 20.0 | 8.0 | 0.40 | 0.20 |" in text
    run.write({"environment": {"date_utc": "today"}, "config": {}, "sections": {"lessons": section}}, tmp_path)
    assert text in (tmp_path / "results.md").read_text()
    assert lesson_times(tmp_path / "results.json") == {"00_welcome": {"default": 20.0, "demo": 8.0},
                                                       "01_receptive_fields": {"default": 30.0}}


def test_the_committed_results_json_is_the_run_results_md_shows():
    """benchmarks/results.json (what the course reads its run times from) and the lesson table of
    benchmarks/RESULTS.md (what people read) are the same run: the JSON renders that table."""
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    section = json.loads((root / "results.json").read_text())["sections"]["lessons"]
    rendered = "\n".join(report.lessons(section)).split("\n\n")[0]  # the lesson table, before the ratios
    assert rendered.count("\n") > 10 and rendered in (root / "RESULTS.md").read_text(), rendered
