"""Pretrain a small ResNet on the procedural source classes: the model the zoo ships.

    python -m cnnlessons.zoo.pretrain                                   # rebuild data/zoo/shapes_resnet8.pt
    torchrun --nproc_per_node=2 -m cnnlessons.zoo.pretrain --out /tmp/m.pt   # data-parallel (DDP)
    python -m cnnlessons.zoo.pretrain --verify                          # re-measure the shipped model

What it does: generate ``--images`` procedural images of the sixteen ``SOURCE_CLASSES``
(seed ``--seed``; the eight ``SIMILAR_CLASSES`` are held out for the transfer lesson), train
``cifar_resnet(--depth)`` with SGD (Nesterov momentum 0.9, weight decay 5e-4, linear warm-up
then cosine decay) for ``--steps`` steps through ``cnnlessons.train.fit``, measure the
accuracy on a fresh test set, and write the weights plus a JSON manifest (sha256, the exact
command, seed, data size, source accuracy, library versions) beside them.

Data parallelism is PyTorch's own: under ``torchrun`` every process (rank) holds a replica
wrapped in ``DistributedDataParallel`` (gloo on the CPU, NCCL on GPUs), trains on its own
shard ``x[rank::world_size]`` with ``batch_size / world_size`` images a step, and the
gradients are averaged across ranks in ``backward``: one step of the global batch.

Interruptions: every ``--checkpoint-every`` steps rank 0 writes a checkpoint atomically
(model, optimizer, schedule, step); rerunning the same command resumes from it. Each chunk of
steps draws its batches from a generator seeded by (seed, chunk), so a resumed run takes the
same steps as an uninterrupted one and, on the CPU with the same seed, world size and
``--threads``, ends with the same weights.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..data.procedural import make_shapes
from ..data.targets import SOURCE_CLASSES
from ..io import atomic_write_bytes, atomic_write_text, sha256
from ..paths import checkout, data_dir, zoo_dir
from ..models.cifar_resnet import cifar_resnet
from ..seeding import seed_everything
from ..train import Batches, evaluate, fit
from . import load_file, manifest_path

TEST_SEED_OFFSET = 500_000  # the source test set's seed is seed + this: never a training image


@dataclass(frozen=True)
class Config:
    """Everything that determines the trained weights (and nothing that does not)."""

    depth: int = 8
    images: int = 40_000
    test_images: int = 4_000
    size: int = 16
    steps: int = 1_000
    batch_size: int = 128
    lr: float = 0.1
    weight_decay: float = 5e-4
    warmup: float = 0.03
    seed: int = 0
    world_size: int = 1
    threads: int = 1

    @property
    def classes(self) -> tuple[str, ...]:
        return SOURCE_CLASSES


def build_model(depth: int, num_classes: int = len(SOURCE_CLASSES)) -> nn.Module:
    """The architecture of the shipped model: He et al.'s CIFAR ResNet (see ``models.cifar_resnet``)."""
    return cifar_resnet(depth, num_classes=num_classes)


def source_data(config: Config, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The source training set (seed ``seed``) or test set (seed ``seed + TEST_SEED_OFFSET``)."""
    if train:
        return make_shapes(config.images, size=config.size, classes=config.classes, seed=config.seed)
    return make_shapes(config.test_images, size=config.size, classes=config.classes,
                       seed=config.seed + TEST_SEED_OFFSET)


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
                    scheduler: torch.optim.lr_scheduler.LRScheduler, log: list[dict]) -> None:
    """Write the training state atomically: a crash mid-write leaves the previous checkpoint."""
    state = {"config": asdict(config), "step": step, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "log": log}
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

def pretrain(config: Config, out: Path, *, checkpoint_dir: Path, checkpoint_every: int = 100,
             device: str = "cpu", command: str = "", quiet: bool = False) -> dict:
    """Train (or resume) and write ``out`` plus its manifest; return the manifest (rank 0)."""
    dist, dev = init_distributed(device)
    if dist.world_size != config.world_size:
        raise ValueError(f"config.world_size={config.world_size} but {dist.world_size} processes are running")
    if config.batch_size % dist.world_size:
        raise ValueError(f"--batch-size {config.batch_size} must be divisible by the {dist.world_size} processes")
    torch.set_num_threads(config.threads)
    say = (lambda *a: print(*a, flush=True)) if dist.main and not quiet else (lambda *a: None)
    try:
        seed_everything(config.seed)
        model = build_model(config.depth).to(dev)
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                                    weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, config.steps, config.warmup))
        ckpt_path = checkpoint_dir / "checkpoint.pt"
        state = load_checkpoint(ckpt_path, config)
        step, log = 0, []
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            step, log = state["step"], state["log"]
            say(f"resuming from {ckpt_path} at step {step}/{config.steps}")
        train_model: nn.Module = model
        if dist.world_size > 1:
            train_model = nn.parallel.DistributedDataParallel(
                model, device_ids=[dev.index] if dev.type == "cuda" else None)

        start = time.perf_counter()
        if step < config.steps:
            say(f"generating {config.images:,} source images ({len(config.classes)} classes, seed {config.seed}) ...")
            x, y = source_data(config)
            x, y = x[dist.rank::dist.world_size], y[dist.rank::dist.world_size]
            say(f"training {type(model).__name__}-{config.depth} for {config.steps} steps of {config.batch_size} "
                f"images on {dist.world_size} process(es), {dev}")
        while step < config.steps:
            chunk = step // checkpoint_every
            n = min(checkpoint_every - step % checkpoint_every, config.steps - step)
            batches = Batches(x, y, config.batch_size // dist.world_size, seed=config.seed * 1_000_003 + chunk,
                              drop_last=True)
            history = fit(train_model, batches, optimizer, steps=n, scheduler=scheduler, eval_every=1,
                          device=dev, desc=f"steps {step + 1}-{step + n}", show_progress=dist.main and not quiet)
            step += n
            entry = {"step": step, "loss": sum(history.loss) / n, "train_error": sum(history.error) / n,
                     "seconds": time.perf_counter() - start}
            log.append(entry)
            say(f"step {step}/{config.steps}: loss {entry['loss']:.3f}, train error {entry['train_error']:.3f}, "
                f"{entry['seconds']:.0f} s")
            if dist.main:
                save_checkpoint(ckpt_path, config, step, model, optimizer, scheduler, log)
            _barrier(dist)

        manifest: dict = {}
        if dist.main:
            x_test, y_test = source_data(config, train=False)
            _, error = evaluate(model, Batches(x_test, y_test, 500, shuffle=False), dev)
            model.cpu()
            atomic_write_bytes(out, to_bytes(model.state_dict()))
            manifest = write_manifest(out, config, accuracy=1 - error, command=command, log=log)
            say(f"source test accuracy {1 - error:.4f}; wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and its manifest")
        _barrier(dist)
        return manifest
    finally:
        if dist.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def write_manifest(out: Path, config: Config, *, accuracy: float, command: str, log: list[dict]) -> dict:
    import numpy

    manifest = {
        "name": out.stem,
        "file": out.name,
        "sha256": sha256(out),
        "bytes": out.stat().st_size,
        "architecture": {"builder": "cnnlessons.models.cifar_resnet.cifar_resnet", "depth": config.depth,
                         "num_classes": len(config.classes)},
        "input": {"size": config.size, "channels": 3, "range": [-1, 1],
                  "note": "images scaled to [-1, 1] like cnnlessons.data.make_shapes"},
        "classes": list(config.classes),
        "command": command,
        "config": asdict(config),
        "data": {"generator": "cnnlessons.data.make_shapes", "train_images": config.images,
                 "train_seed": config.seed, "test_images": config.test_images,
                 "test_seed": config.seed + TEST_SEED_OFFSET},
        "source_accuracy": round(accuracy, 6),
        "train_seconds": round(log[-1]["seconds"], 1) if log else None,
        "log": log,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "numpy": numpy.__version__, "platform": platform.platform()},
    }
    atomic_write_text(manifest_path(out), json.dumps(manifest, indent=2) + "\n")
    return manifest


def verify(out: Path, device: str = "cpu") -> tuple[float, float]:
    """Re-measure a zoo model's source accuracy; return (measured, recorded in the manifest)."""

    model, meta = load_file(out)
    config = Config(**meta["config"])
    x_test, y_test = source_data(config, train=False)
    _, error = evaluate(model.to(device), Batches(x_test, y_test, 500, shuffle=False), torch.device(device))
    return 1 - error, meta["source_accuracy"]


def canonical_command(config: Config, out: Path) -> str:
    """The command that rebuilds ``out`` with ``config``, every option spelled out (defaults may change)."""
    launcher = "python -m" if config.world_size == 1 else f"torchrun --nproc_per_node={config.world_size} -m"
    try:
        out = Path(out).resolve().relative_to(checkout() or Path.cwd())
    except ValueError:
        pass
    options = ["--depth", config.depth, "--images", config.images, "--test-images", config.test_images,
               "--size", config.size, "--steps", config.steps, "--batch-size", config.batch_size, "--lr", config.lr,
               "--seed", config.seed, "--threads", config.threads, "--device", "cpu", "--out", out]
    return f"{launcher} cnnlessons.zoo.pretrain {shlex.join(str(o) for o in options)}"


def build_parser() -> argparse.ArgumentParser:
    d = Config()
    p = argparse.ArgumentParser(prog="python -m cnnlessons.zoo.pretrain", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--depth", type=int, default=d.depth, help="ResNet depth 6n+2 (8, 14, 20, ...)")
    p.add_argument("--images", type=int, default=d.images, help="source training images")
    p.add_argument("--test-images", type=int, default=d.test_images, help="source test images")
    p.add_argument("--size", type=int, default=d.size, help="image side in pixels")
    p.add_argument("--steps", type=int, default=d.steps, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="global batch (split across processes)")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of data, initialisation and batches")
    p.add_argument("--threads", type=int, default=d.threads, help="CPU threads per process (part of the result)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--out", type=Path, default=zoo_dir() / "shapes_resnet8.pt", help="weights file (manifest beside it)")
    p.add_argument("--checkpoint-dir", type=Path, default=None, help="default: data/cache/pretrain/<out name>")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--verify", action="store_true", help="only re-measure --out's source accuracy against its manifest")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.verify:
        measured, recorded = verify(args.out, "cpu" if args.device == "auto" else args.device)
        ok = abs(measured - recorded) <= 2e-3
        print(f"{args.out}: source accuracy {measured:.4f}, manifest {recorded:.4f}: {'OK' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    world = int(os.environ.get("WORLD_SIZE", "1"))
    config = Config(depth=args.depth, images=args.images, test_images=args.test_images, size=args.size,
                    steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                    world_size=world, threads=args.threads)
    command = canonical_command(config, args.out)
    checkpoint_dir = args.checkpoint_dir or data_dir() / "cache" / "pretrain" / args.out.stem
    pretrain(config, args.out, checkpoint_dir=checkpoint_dir, checkpoint_every=args.checkpoint_every,
             device=args.device, command=command, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
