"""The pretraining command: schedule, determinism, 2-process DDP on CPU (gloo), kill and resume."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cnnlessons import zoo
from cnnlessons.data import GLYPH_CLASSES, SOURCE_CLASSES
from cnnlessons.zoo.pretrain import (MODELS, Config, build_parser, canonical_command, config_from_args, half,
                                    lr_factor, source_data)

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")
TINY = ["--images", "1024", "--test-images", "320", "--size", "16", "--steps", "40", "--batch-size", "64",
        "--lr", "0.1", "--seed", "3", "--checkpoint-every", "10", "--quiet"]


def test_lr_schedule_warms_up_then_follows_a_cosine():
    total, warmup = 100, 0.1
    assert lr_factor(0, total, warmup) == pytest.approx(1 / 10)
    assert lr_factor(9, total, warmup) == pytest.approx(1.0)
    assert lr_factor(10, total, warmup) == pytest.approx(1.0)
    assert lr_factor(55, total, warmup) == pytest.approx(0.5 * (1 + math.cos(math.pi * 45 / 90)))
    assert lr_factor(100, total, warmup) == pytest.approx(0.0, abs=1e-12)


def test_canonical_command_spells_out_every_option():
    cmd = canonical_command(Config(world_size=2), ROOT / "data" / "zoo" / "m.pt")
    assert cmd.startswith("torchrun --nproc_per_node=2 -m cnnlessons.zoo.pretrain --depth 8")
    assert cmd.endswith("--out data/zoo/m.pt")


def test_canonical_command_rebuilds_the_same_config():
    """Parsing a manifest's command gives back the configuration that wrote it."""
    for name, config in MODELS.items():
        cmd = canonical_command(config, ROOT / "data" / "zoo" / f"{name}.pt").split()
        assert cmd[:3] == ["python", "-m", "cnnlessons.zoo.pretrain"]
        assert config_from_args(build_parser().parse_args(cmd[3:])) == config


def test_model_presets_and_overrides():
    args = build_parser().parse_args(["--model", "glyphs_resnet14", "--steps", "50", "--snapshots", "none",
                                      "--eval-every", "0", "--val-images", "0"])
    config = config_from_args(args)
    assert config.depth == 14 and config.widths == (24, 48, 96) and config.source == "shapes+glyphs"
    assert config.steps == 50 and config.snapshots == ()
    assert config_from_args(build_parser().parse_args([])) == MODELS["shapes_resnet8"] == Config()


def test_config_refuses_inconsistent_settings():
    with pytest.raises(ValueError, match="multiple of checkpoint_every"):
        Config(steps=1000, checkpoint_every=100, snapshots=(150,))
    with pytest.raises(ValueError, match="below --steps"):
        Config(steps=1000, snapshots=(1000,))
    with pytest.raises(ValueError, match="go together"):
        Config(eval_every=100)
    with pytest.raises(ValueError, match="source"):
        Config(source="imagenet")
    assert Config(**json.loads(json.dumps({"widths": [8, 16, 32], "snapshots": [100]}))).widths == (8, 16, 32)


def test_shapes_and_glyphs_source_is_balanced_and_deterministic():
    config = Config(source="shapes+glyphs", images=2 * 76 + 5, test_images=76, val_images=76, eval_every=100)
    x, y = source_data(config)
    assert config.classes == SOURCE_CLASSES + GLYPH_CLASSES and len(config.classes) == 76
    assert x.shape == (157, 3, 16, 16)
    counts = torch.bincount(y, minlength=76)
    assert int(counts.min()) == 2 and int(counts.max()) == 3
    x2, y2 = source_data(config)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    xv, _ = source_data(config, "val")
    xt, _ = source_data(config, "test")
    assert len(xv) == len(xt) == 76 and not torch.equal(xv, xt)
    with pytest.raises(ValueError, match="split"):
        source_data(config, "training")


def test_half_keeps_integer_buffers():
    state = {"w": torch.randn(3), "bn.num_batches_tracked": torch.tensor(7)}
    h = half(state)
    assert h["w"].dtype == torch.float16 and h["bn.num_batches_tracked"].dtype == torch.int64


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    env.pop("CNNLESSONS_DEVICE", None)
    return env


def _run(args, tmp_path, name, nproc=1, **kwargs):
    launcher = ([str(TORCHRUN), "--standalone", f"--nproc_per_node={nproc}", "-m"] if nproc > 1
                else [sys.executable, "-m"])
    out = tmp_path / f"{name}.pt"
    cmd = launcher + ["cnnlessons.zoo.pretrain", *args, "--out", str(out), "--checkpoint-dir", str(tmp_path / f"ck_{name}")]
    return cmd, out


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (torchrun starts its workers in their own process groups)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the launcher and every worker at once: an abrupt crash, no cleanup."""
    for pid in [proc.pid, *_descendants(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _state(path):
    return torch.load(path, weights_only=True)


@pytest.mark.slow
def test_single_process_run_is_deterministic_and_learns(tmp_path):
    outs = []
    for name in ("a", "b"):
        cmd, out = _run(TINY, tmp_path, name)
        subprocess.run(cmd, check=True, env=_env(), cwd=tmp_path, timeout=600)
        outs.append(out)
    meta = [json.loads(o.with_suffix(".json").read_text()) for o in outs]
    assert meta[0]["sha256"] == meta[1]["sha256"]  # same seed, same world size, same threads: same bytes
    assert meta[0]["source_accuracy"] > 3 / 16    # well above chance (1/16)
    assert meta[0]["log"][-1]["loss"] < meta[0]["log"][0]["loss"]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds torchrun's workers through /proc (Linux)")
def test_two_process_ddp_learns_and_a_killed_run_resumes(tmp_path):
    # The reference: an uninterrupted 2-process run.
    cmd, ref = _run(TINY, tmp_path, "ref", nproc=2)
    subprocess.run(cmd, check=True, env=_env(), cwd=tmp_path, timeout=600)
    meta = json.loads(ref.with_suffix(".json").read_text())
    assert meta["config"]["world_size"] == 2 and meta["command"].startswith("torchrun --nproc_per_node=2")
    assert meta["source_accuracy"] > 3 / 16
    assert meta["log"][-1]["loss"] < meta["log"][0]["loss"]

    # The same run, killed (SIGKILL to the launcher and its workers) after its first checkpoint.
    cmd, out = _run(TINY, tmp_path, "killed", nproc=2)
    checkpoint = tmp_path / "ck_killed" / "checkpoint.pt"
    proc = subprocess.Popen(cmd, env=_env(), cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    _kill_tree(proc)
    time.sleep(1)
    assert checkpoint.exists() and not out.exists()
    step = torch.load(checkpoint, weights_only=False)["step"]
    assert 10 <= step < 40

    # Rerunning the same command resumes from the checkpoint and ends where the reference did.
    cmd = [c for c in cmd if c != "--quiet"]
    done = subprocess.run(cmd, check=True, env=_env(), cwd=tmp_path, timeout=600, capture_output=True, text=True)
    assert f"resuming from {checkpoint} at step {step}/40" in done.stdout
    a, b = _state(ref), _state(out)
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)


@pytest.mark.slow
def test_glyph_run_ships_checkpoints_the_zoo_loads(tmp_path):
    args = ["--model", "glyphs_resnet14", "--images", "760", "--test-images", "152", "--val-images", "152",
            "--steps", "30", "--batch-size", "32", "--checkpoint-every", "10", "--eval-every", "10",
            "--snapshots", "10,20", "--threads", "1", "--quiet"]
    cmd, out = _run(args, tmp_path, "glyphs")
    subprocess.run(cmd, check=True, env=_env(), cwd=tmp_path, timeout=900)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["architecture"]["widths"] == [24, 48, 96] and meta["architecture"]["num_classes"] == 76
    assert [e["step"] for e in meta["log"] if "val_accuracy" in e] == [10, 20, 30]
    entries = zoo.checkpoints(out)
    assert [e["step"] for e in entries] == [10, 20, 30] and [e["final"] for e in entries] == [False, False, True]
    assert meta["checkpoints"]["bytes"] < 2 * 0.6 * out.stat().st_size  # two float16 snapshots: about half the final file each
    final, _ = zoo.load_checkpoint(out, 30)
    assert torch.equal(final.fc.weight, zoo.load_file(out)[0].fc.weight)
    early, info = zoo.load_checkpoint(out, 10)
    assert info["source_accuracy"] == entries[0]["source_accuracy"] and not early.training
    assert early.fc.weight.dtype == torch.float32 and not torch.equal(early.fc.weight, final.fc.weight)
    with pytest.raises(zoo.ZooError, match="steps: \\[10, 20, 30\\]"):
        zoo.load_checkpoint(out, 15)
    stored = zoo.checkpoints_path(out)
    stored.write_bytes(stored.read_bytes()[:-10])
    with pytest.raises(zoo.ZooError, match="truncated"):
        zoo.load_checkpoint(out, 20)
