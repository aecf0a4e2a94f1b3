"""Lesson 05 on a folder of your own images: loading, the split, odd files, errors, the whole lesson."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from cnnlessons.data import FolderError, load_folder, load_target, per_class_indices
from cnnlessons.data.folder import held_out_counts
from cnnlessons.experiments import transfer

from folders import make_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("own") / "my_images", per_class=30)


def test_mixed_formats_are_converted_odd_files_ignored_broken_file_named(folder):
    t = load_folder(folder, size=12)
    assert t.classes == ("blue", "green", "grey", "red")
    assert t.x_train.shape[1:] == (3, 12, 12) and t.x_train.min() >= -1 and t.x_train.max() <= 1
    notes = "\n".join(t.notes)
    assert "zz_broken.png" in notes and "skipped 1 file" in notes
    assert "ignored 4 file(s) that are not images" in notes and "notes.txt" in notes
    # 30 images a class: 25% (8) held out for testing, the rest (22) to train; red lost its broken file
    assert torch.bincount(t.y_test).tolist() == [8, 8, 8, 8]
    assert torch.bincount(t.y_train).tolist() == [22, 22, 22, 22]
    assert "held out for testing: 25% of each class" in notes


def test_conversions_match_the_pixels(tmp_path):
    from PIL import Image

    for cls, value in (("a", 30), ("b", 220)):
        (tmp_path / cls).mkdir()
        for i in range(4):
            Image.new("L", (10 + i, 8), value).save(tmp_path / cls / f"{i}_grey.png")
            Image.new("RGBA", (8, 8), (value, value, value, 0)).save(tmp_path / cls / f"{i}_clear.png")
    t = load_folder(tmp_path, size=8)
    grey = (30 / 255) * 2 - 1
    x = torch.cat([t.x_train, t.x_test])
    y = torch.cat([t.y_train, t.y_test])
    a = x[y == 0]
    # class a: grey 30 images and fully transparent ones (laid over white: 1.0)
    assert {round(v, 2) for v in a.mean(dim=(1, 2, 3)).tolist()} == {round(grey, 2), 1.0}


def test_split_adapts_to_the_class_size():
    assert held_out_counts([2, 3, 6, 20, 60, 1000]) == [1, 1, 3, 5, 15, 100]
    y = torch.tensor([0] * 7 + [1] * 3)
    idx = per_class_indices(y, [5, 2], seed=0)
    assert torch.bincount(y[idx]).tolist() == [5, 2]
    assert torch.bincount(y[per_class_indices(y, 5, seed=0, at_most=True)]).tolist() == [5, 3]
    with pytest.raises(ValueError, match="class 1 has 3 items"):
        per_class_indices(y, 5, seed=0)


def test_train_and_test_subfolders_are_the_split(tmp_path):
    make_folder(tmp_path / "d" / "train", per_class=6, classes=("x", "y"), broken=False)
    make_folder(tmp_path / "d" / "test", per_class=3, classes=("x", "y"), broken=False)
    t = load_folder(tmp_path / "d", size=8)
    assert torch.bincount(t.y_train).tolist() == [6, 6] and torch.bincount(t.y_test).tolist() == [3, 3]
    assert t.name == "d"


@pytest.mark.parametrize("layout, message", [
    ({"only": 3}, r"only one class subfolder \('only'\)"),
    ({"a": 3, "b": 0}, r"class 'b' in .*my has no images"),
    ({"a": 3, "b": 1}, r"class 'b' \(1\) has fewer than 2 images"),
    ({}, "has no class subfolders"),
])
def test_bad_folders_are_one_clear_error_naming_the_folder_or_class(tmp_path, layout, message):
    from PIL import Image

    root = tmp_path / "my"
    root.mkdir()
    (root / "README.txt").write_text("x")
    for cls, n in layout.items():
        (root / cls).mkdir()
        for i in range(n):
            Image.new("RGB", (4, 4)).save(root / cls / f"{i}.png")
    with pytest.raises(FolderError, match=message) as info:
        load_target(str(root), size=8)
    assert "\n" not in str(info.value) and str(root) in str(info.value)


def test_a_class_whose_images_are_all_broken_is_named(tmp_path):
    make_folder(tmp_path / "my", per_class=4, classes=("a", "b"), broken=False)
    for f in (tmp_path / "my" / "b").glob("*"):
        f.write_bytes(b"not an image")
    with pytest.raises(FolderError, match=r"class 'b' in .*my has 0 readable"):
        load_folder(tmp_path / "my", size=8)


def test_labels_per_class_larger_than_a_class_is_reduced_with_a_note(folder):
    t = load_folder(folder, size=8)
    values, notes = transfer.usable_labels_per_class([t], [5, 20, 50, 100])
    assert values == [5, 17]  # the validation split takes its share of every class first
    assert len(notes) == 3
    assert "labels_per_class 20 -> 17: class 'blue' of 'my_images' has only 17 training images besides the " \
           "validation split" in notes[0]


def test_best_by_validation_without_results_says_what_it_looked_for():
    rows = [{"target": "t", "labels_per_class": 5, "strategy": "scratch", "seed": 0, "accuracy": 0.5,
             "val_accuracy": 0.5}]
    with pytest.raises(KeyError, match=r"no runs of \['linear_probe'\] where \{'target': 'u'"):
        transfer.best_by_validation(rows, ("linear_probe",), target="u")
    assert transfer.best_by_validation(rows, ("scratch",), target="t") == "scratch"


def test_confusion_matrix_and_figures(folder):
    import matplotlib

    matplotlib.use("Agg")
    from cnnlessons.data.show import show_confusion, show_examples

    t = load_folder(folder, size=8)
    m = transfer.confusion(t.y_test, torch.zeros_like(t.y_test), t.num_classes)
    assert m.tolist() == [[8, 0, 0, 0]] * 4
    assert len(show_examples(t, per_class=3).axes) == 12
    assert show_confusion(m, t.classes, "x").axes[0].get_title() == "x"


def test_a_fresh_experiment_reproduces_compare(folder):
    from cnnlessons import zoo

    model, _ = zoo.load("shapes_resnet8")
    build = zoo.scratch_builder("shapes_resnet8")
    t = load_folder(folder, size=16)
    budget = transfer.Budget(epochs=1, lr_grids=transfer.lr_grids("one"), l2_grid=(1.0, 0.01))
    rows = transfer.compare(transfer.Experiment(model, build, t, budget), [3], [0],
                            strategies=("linear_probe", "scratch"))
    again = transfer.Experiment(model, build, t, budget)  # a fresh experiment: the same choices and the same runs
    for row in rows:
        r = again.run(row.strategy, 3, [0])[0]
        assert (r.setting, r.accuracy) == (row.setting, row.accuracy)
        assert r.accuracy == (r.predictions == t.y_test).float().mean().item()


def _claims(nb: dict) -> str:
    cell = nb["cells"][-1]
    return "".join(cell["outputs"][0]["data"]["text/plain"])


@pytest.mark.slow
def test_whole_lesson_runs_on_a_folder(tmp_path, monkeypatch):
    """The lesson end to end (papermill) at its defaults on a folder of 30 images a class in mixed formats and
    sizes, with non-image files and a broken file (about half a minute; most of it the kernel and the zoo check)."""
    from cnnlessons.course.notebooks import execute

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny models: threads only contend on a busy machine
    folder = make_folder(tmp_path / "my images", per_class=30)
    out = tmp_path / "out.ipynb"
    execute(ROOT / "notebooks" / "05_transfer_learning.ipynb", out, progress=False,
            parameters={"dataset": str(folder), "device": "cpu"})
    nb = json.loads(out.read_text())
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))
    assert "zz_broken.png" in text
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))
    # the columns compared: 5 labels a class (+5 validation, a quarter of 22), 20 reduced to the 17 a class has, all
    assert "5 (+5), 17 (+5), all" in html and "labels_per_class 20 -> 17" in text
    table = _claims(nb)
    assert "my images: the strategy best on validation" in table and "beats chance (1/4) on every seed" in table
    assert "skipped: needs the offline targets and the shipped weights" in table and "FAILED" not in table
