"""Pretrain a ResNet on procedural source images: the models the zoo ships.

    python -m cnnlessons.zoo.pretrain                                   # rebuild data/zoo/shapes_resnet8.pt
    python -m cnnlessons.zoo.pretrain --model glyphs_resnet14           # rebuild data/zoo/glyphs_resnet14.pt
    torchrun --nproc_per_node=2 -m cnnlessons.zoo.pretrain --out /tmp/m.pt   # data-parallel (DDP)
    python -m cnnlessons.zoo.pretrain --verify                          # re-measure the shipped model

What it does: generate ``--images`` source images (seed ``--seed``): with ``--source shapes``
the sixteen procedural ``SOURCE_CLASSES`` (the eight ``SIMILAR_CLASSES`` are held out for the
transfer lesson); with ``--source shapes+glyphs`` those and the ``GLYPH_CLASSES``, letters and
symbols rendered from matplotlib's fonts (``cnnlessons.data.glyphs``), every class equally
often. Train ``cifar_resnet(--depth, widths=--widths)`` with SGD (Nesterov momentum 0.9,
weight decay 5e-4, linear warm-up then cosine decay) for ``--steps`` steps through
``cnnlessons.train.fit``, measure the accuracy on a fresh test set, and write the weights plus
a JSON manifest (sha256, the exact command, config, data, source accuracy, the training log,
library versions) beside them. ``--model NAME`` takes a shipped model's settings (``MODELS``).

Held-out source accuracy during training: every ``--eval-every`` steps the model is measured
on ``--val-images`` fresh images (their own seed, neither training nor test images), so the
log shows where source accuracy plateaus. ``--snapshots`` names steps whose weights are kept
(float16) and shipped beside the final ones in ``NAME_checkpoints.pt``, each with its source
accuracy in the manifest: source models of increasing quality, for "do better source models
transfer better?" (Kornblith, Shlens, Le 2019). Load them with ``cnnlessons.zoo.load_checkpoint``.

Data parallelism is PyTorch's own: under ``torchrun`` every process (rank) holds a replica
wrapped in ``DistributedDataParallel`` (gloo on the CPU, NCCL on GPUs), trains on its own
shard ``x[rank::world_size]`` with ``batch_size / world_size`` images a step, and the
gradients are averaged across ranks in ``backward``: one step of the global batch.

Interruptions: every ``--checkpoint-every`` steps rank 0 writes a checkpoint atomically
(model, optimizer, schedule, step, log, snapshots); rerunning the same command resumes from it.
Each chunk of steps draws its batches from a generator seeded by (seed, chunk), so a resumed
run takes the same steps as an uninterrupted one and, on the CPU with the same seed, world
size and ``--threads``, ends with the same weights.

The pieces: ``zoo.source`` (the settings, ``Config`` and ``MODELS``, and the source images),
``zoo.manifest`` (the manifest written beside the weights, and ``--verify``), and this module
(the training run, its checkpoints, data parallelism and the command line).
"""
from __future__ import annotations

import argparse
import io
import math
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
from torch import nn

from ..io import atomic_write_bytes
from ..paths import checkout, data_dir, zoo_dir
from ..seeding import seed_everything
from ..train import Batches, fit
from . import checkpoints_path
from .manifest import verify, verify_checkpoints, write_manifest
from .source import MODELS, SOURCES, Config, accuracy, build_model, source_data

__all__ = ["MODELS", "Config", "build_parser", "canonical_command", "config_from_args", "half", "lr_factor",
           "main", "pretrain", "source_data"]


def lr_factor(step: int, total: int, warmup: float) -> float:
    """Learning-rate multiplier after ``step`` steps: linear warm-up over the first
    ``warmup * total`` steps, then half a cosine from 1 down to 0 at ``total``."""
    w = max(1, round(warmup * total))
    if step < w:
        return (step + 1) / w
    return 0.5 * (1 + math.cos(math.pi * (step - w) / max(1, total - w)))


def to_bytes(obj: object) -> bytes:
    """``torch.save`` into memory: the same object gives the same bytes (a file name would be
    recorded inside the archive, and atomic writes use random temporary names)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with its floating-point tensors in float16 (integer buffers kept): half the bytes."""
    return {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu().clone() for k, v in state.items()}


# --- distributed plumbing -------------------------------------------------------------------

@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> tuple[Dist, torch.device]:
    """Join the process group that ``torchrun`` describes in the environment (if any).

    Backend: NCCL when training on CUDA (one GPU per process, ``cuda:LOCAL_RANK``), gloo on the CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dist = Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        torch.cuda.set_device(dist.local_rank)
        dev = torch.device("cuda", dist.local_rank)
    else:
        dev = torch.device(device)
    if world > 1:
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dist, dev


def _barrier(dist: Dist) -> None:
    if dist.world_size > 1:
        torch.distributed.barrier()


# --- checkpoints ----------------------------------------------------------------------------

def save_checkpoint(path: Path, config: Config, step: int, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, log: list[dict],
                    snapshots: dict[int, dict] | None = None) -> None:
    """Write the training state atomically: a crash mid-write leaves the previous checkpoint."""
    state = {"config": asdict(config), "step": step, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "log": log,
             "snapshots": snapshots or {}}
    atomic_write_bytes(path, to_bytes(state))


def load_checkpoint(path: Path, config: Config) -> dict | None:
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state["config"] != asdict(config):
        raise ValueError(f"the checkpoint {path} was written by a different configuration "
                         f"{state['config']}; rerun with the same options, or delete it / pass another --checkpoint-dir")
    return state


# --- the run --------------------------------------------------------------------------------

def pretrain(config: Config, out: Path, *, checkpoint_dir: Path, device: str = "cpu", command: str = "",
             quiet: bool = False) -> dict:
    """Train (or resume) and write ``out`` (plus its checkpoints and manifest); return the manifest (rank 0)."""
    dist, dev = init_distributed(device)
    if dist.world_size != config.world_size:
        raise ValueError(f"config.world_size={config.world_size} but {dist.world_size} processes are running")
    if config.batch_size % dist.world_size:
        raise ValueError(f"--batch-size {config.batch_size} must be divisible by the {dist.world_size} processes")
    torch.set_num_threads(config.threads)
    say = (lambda *a: print(*a, flush=True)) if dist.main and not quiet else (lambda *a: None)
    every = config.checkpoint_every
    try:
        seed_everything(config.seed)
        model = build_model(config.depth, len(config.classes), config.widths).to(dev)
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                                    weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, config.steps, config.warmup))
        ckpt_path = checkpoint_dir / "checkpoint.pt"
        state = load_checkpoint(ckpt_path, config)
        step, log, snapshots = 0, [], {}
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            step, log, snapshots = state["step"], state["log"], state.get("snapshots", {})
            say(f"resuming from {ckpt_path} at step {step}/{config.steps}")
        train_model: nn.Module = model
        if dist.world_size > 1:
            train_model = nn.parallel.DistributedDataParallel(
                model, device_ids=[dev.index] if dev.type == "cuda" else None)

        start = time.perf_counter()
        done_before = log[-1]["seconds"] if log else 0.0
        if step < config.steps:
            say(f"generating {config.images:,} source images ({len(config.classes)} classes, {config.source}, "
                f"seed {config.seed}) ...")
            x, y = source_data(config)
            x, y = x[dist.rank::dist.world_size], y[dist.rank::dist.world_size]
            val = source_data(config, "val") if config.val_images and dist.main else None
            say(f"training {type(model).__name__}-{config.depth} (widths {config.widths}) for {config.steps} steps "
                f"of {config.batch_size} images on {dist.world_size} process(es), {dev}")
        while step < config.steps:
            chunk = step // every
            n = min(every - step % every, config.steps - step)
            batches = Batches(x, y, config.batch_size // dist.world_size, seed=config.seed * 1_000_003 + chunk,
                              drop_last=True)
            history = fit(train_model, batches, optimizer, steps=n, scheduler=scheduler, eval_every=1,
                          device=dev, desc=f"steps {step + 1}-{step + n}", show_progress=dist.main and not quiet)
            step += n
            entry = {"step": step, "loss": sum(history.loss) / n, "train_error": sum(history.error) / n,
                     "lr": optimizer.param_groups[0]["lr"], "seconds": done_before + time.perf_counter() - start}
            if dist.main and val is not None and (step % config.eval_every == 0 or step == config.steps):
                entry["val_accuracy"] = round(accuracy(model, val, dev), 6)
            if dist.main and step in config.snapshots:
                snapshots[step] = half(model.state_dict())
            log.append(entry)
            acc = f", held-out accuracy {entry['val_accuracy']:.4f}" if "val_accuracy" in entry else ""
            say(f"step {step}/{config.steps}: loss {entry['loss']:.3f}, train error {entry['train_error']:.3f}{acc}, "
                f"{entry['seconds']:.0f} s")
            if dist.main:
                save_checkpoint(ckpt_path, config, step, model, optimizer, scheduler, log, snapshots)
            _barrier(dist)

        manifest: dict = {}
        if dist.main:
            model.cpu()
            atomic_write_bytes(out, to_bytes(model.state_dict()))
            if config.snapshots:
                atomic_write_bytes(checkpoints_path(out), to_bytes({s: snapshots[s] for s in config.snapshots}))
            manifest = write_manifest(out, config, command=command, log=log)
            say(f"source test accuracy {manifest['source_accuracy']:.4f}; wrote {out} "
                f"({out.stat().st_size / 1e6:.2f} MB) and its manifest")
            for c in manifest.get("checkpoints", {}).get("entries", []):
                say(f"  checkpoint at step {c['step']}: source test accuracy {c['source_accuracy']:.4f}")
        _barrier(dist)
        return manifest
    finally:
        if dist.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def canonical_command(config: Config, out: Path) -> str:
    """The command that rebuilds ``out`` with ``config``, every option spelled out (defaults may change)."""
    launcher = "python -m" if config.world_size == 1 else f"torchrun --nproc_per_node={config.world_size} -m"
    try:
        out = Path(out).resolve().relative_to(checkout() or Path.cwd())
    except ValueError:
        pass
    options = ["--depth", config.depth, "--widths", ",".join(map(str, config.widths)), "--source", config.source,
               "--images", config.images, "--test-images", config.test_images, "--val-images", config.val_images,
               "--size", config.size, "--steps", config.steps, "--batch-size", config.batch_size, "--lr", config.lr,
               "--seed", config.seed, "--threads", config.threads, "--checkpoint-every", config.checkpoint_every,
               "--eval-every", config.eval_every, "--snapshots", ",".join(map(str, config.snapshots)) or "none",
               "--device", "cpu", "--out", out]
    return f"{launcher} cnnlessons.zoo.pretrain {shlex.join(str(o) for o in options)}"


def _ints(text: str) -> tuple[int, ...]:
    return () if text.strip().lower() in ("", "none") else tuple(int(v) for v in text.split(","))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cnnlessons.zoo.pretrain", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", choices=sorted(MODELS), default="shapes_resnet8",
                   help="start from this shipped model's settings (the options below override them)")
    p.add_argument("--depth", type=int, help="ResNet depth 6n+2 (8, 14, 20, ...)")
    p.add_argument("--widths", type=_ints, help="the three stages' widths, e.g. 16,32,64")
    p.add_argument("--source", choices=SOURCES, help="source classes: the procedural shapes, or shapes and glyphs")
    p.add_argument("--images", type=int, help="source training images")
    p.add_argument("--test-images", type=int, help="source test images")
    p.add_argument("--val-images", type=int, help="held-out source images measured every --eval-every steps")
    p.add_argument("--size", type=int, help="image side in pixels")
    p.add_argument("--steps", type=int, help="optimizer steps")
    p.add_argument("--batch-size", type=int, help="global batch (split across processes)")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--seed", type=int, help="seed of data, initialisation and batches")
    p.add_argument("--threads", type=int, help="CPU threads per process (part of the result)")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (part of the result: batch seeds)")
    p.add_argument("--eval-every", type=int, help="steps between held-out evaluations (a multiple of --checkpoint-every)")
    p.add_argument("--snapshots", type=_ints, help="steps whose weights are shipped as checkpoints, e.g. 500,2000 (or none)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--out", type=Path, default=None, help="weights file (manifest beside it); default data/zoo/MODEL.pt")
    p.add_argument("--checkpoint-dir", type=Path, default=None, help="default: data/cache/pretrain/<out name>")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--verify", action="store_true", help="only re-measure --out's source accuracy against its manifest")
    return p


def config_from_args(args: argparse.Namespace, world_size: int = 1) -> Config:
    """``MODELS[args.model]`` with every option the command line gives replacing its value."""
    names = {f.name for f in fields(Config)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return replace(MODELS[args.model], **given, world_size=world_size)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    out = args.out or zoo_dir() / f"{args.model}.pt"
    if args.verify:
        device = "cpu" if args.device == "auto" else args.device
        measured, recorded = verify(out, device)
        rows = [("final", measured, recorded)] + [(f"step {s}", m, r) for s, m, r in verify_checkpoints(out, device)]
        ok = all(abs(m - r) <= 2e-3 for _, m, r in rows)
        for what, m, r in rows:
            print(f"{out} ({what}): source accuracy {m:.4f}, manifest {r:.4f}: {'OK' if abs(m - r) <= 2e-3 else 'MISMATCH'}")
        return 0 if ok else 1
    try:
        config = config_from_args(args, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError as exc:
        build_parser().error(str(exc))
    command = canonical_command(config, out)
    checkpoint_dir = args.checkpoint_dir or data_dir() / "cache" / "pretrain" / out.stem
    pretrain(config, out, checkpoint_dir=checkpoint_dir, device=args.device, command=command, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
