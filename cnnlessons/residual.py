"""The residual argument, done for real: deepening by construction, gradients, zero-init.

He et al. (2016) argue: take a trained shallow net, copy its layers into a deeper one and make
the extra layers compute the identity; the deeper net computes the same function, so it can
be at least as good. ``deepen`` does exactly that for ``cifar_resnet`` models.

- Residual block ``relu(F(x) + x)``: set the last BN's gamma and beta to 0, so ``F(x) = 0``
  whatever the batch statistics; the block outputs ``relu(x) = x`` because its input already
  came out of a ReLU (x >= 0). Exact, in train AND eval mode.
- Plain block ``relu(BN(conv(relu(BN(conv(x))))))``: set each conv to the identity kernel
  (a 1 at the centre tap of channel c -> c) and each BN to the identity. In eval mode BN
  computes ``gamma (x - mu) / sqrt(var + eps) + beta``, so ``mu = 0, var = 1, gamma =
  sqrt(1 + eps), beta = 0`` gives ``x`` up to float rounding, and the ReLUs pass the x >= 0
  they get. In train mode BN normalises with the BATCH statistics instead and the block is
  no longer the identity: the construction exists, but only for the frozen (eval) network.

Also here: per-layer gradient norms at initialisation (``gradient_norms``), the zero-init
check (``shortcut_deviation``) and the degradation experiment (``degradation_experiment``)
that trains shallow/deep plain/residual nets with ``cnnlessons.train.fit``.
"""
from __future__ import annotations

import copy
import statistics
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .data.procedural import CLASS_NAMES, make_shapes
from .models.cifar_resnet import BasicBlock, CifarResNet, cifar_resnet
from .seeding import seed_everything
from .train import Batches, History, evaluate, fit


# --- deepening by construction ----------------------------------------------------------------

def _identity_conv_(conv: nn.Conv2d) -> None:
    """Make a stride-1, C -> C, padded k x k conv compute the identity: centre tap 1 on c -> c."""
    c_out, c_in, kh, kw = conv.weight.shape
    if c_out != c_in or conv.stride != (1, 1) or (kh, kw) != (3, 3):
        raise ValueError("only a stride-1 3x3 conv with as many outputs as inputs can be the identity")
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[torch.arange(c_out), torch.arange(c_in), kh // 2, kw // 2] = 1.0
        if conv.bias is not None:
            conv.bias.zero_()


def _identity_bn_(bn: nn.Module) -> None:
    """Make an eval-mode BatchNorm the identity: mu 0, var 1, gamma sqrt(1 + eps), beta 0."""
    if not isinstance(bn, nn.BatchNorm2d):
        return  # nn.Identity (a net without BN) already is
    with torch.no_grad():
        bn.running_mean.zero_()  # type: ignore[union-attr]
        bn.running_var.fill_(1.0)  # type: ignore[union-attr]
        bn.weight.fill_((1.0 + bn.eps) ** 0.5)
        bn.bias.zero_()


def make_identity_(block: BasicBlock) -> BasicBlock:
    """Turn a stride-1, same-width ``block`` into the identity on inputs x >= 0 (in place).

    Residual block: zero the last BN's gamma and beta (needs BN; exact in any mode).
    Plain block: identity convs and identity eval-mode BNs (see the module docstring).
    """
    if block.shortcut is not None:
        raise ValueError("only a block whose shortcut is the identity (stride 1, same width) can be made the identity")
    if block.residual:
        if not isinstance(block.bn2, nn.BatchNorm2d):
            raise ValueError("a residual block without BN: zero its last conv instead")
        with torch.no_grad():
            block.bn2.weight.zero_()
            block.bn2.bias.zero_()
    else:
        for conv, bn in ((block.conv1, block.bn1), (block.conv2, block.bn2)):
            _identity_conv_(conv)
            _identity_bn_(bn)
    return block


def deepen(model: CifarResNet, depth: int) -> CifarResNet:
    """A ``depth``-layer copy of ``model`` computing the same function (in eval mode).

    Copies the stem, every block and the classifier, then appends ``(depth - model.depth) / 6``
    identity blocks (``make_identity_``) at the end of each stage, where width and map size
    do not change. Works for residual and plain ``cifar_resnet`` nets; ``model`` is not changed.
    """
    if not isinstance(model, CifarResNet):
        raise TypeError(f"model must be a CifarResNet (from cifar_resnet); got {type(model).__name__}")
    if not isinstance(depth, int) or depth < model.depth or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 and >= the model's depth {model.depth}; got {depth!r}")
    if model.se and not model.shortcuts:
        # SE rescales a residual branch F(x) = 0 to 0 (fine), but a plain block would need the
        # SE's sigmoid to output exactly 1, which it never does.
        raise ValueError("deepen cannot make a plain block with SE the identity (sigmoid < 1)")
    deeper = copy.deepcopy(model)
    extra = (depth - model.depth) // 6
    for stage in deeper.stages:
        width = stage[-1].conv2.out_channels
        for _ in range(extra):
            block = BasicBlock(width, width, residual=model.shortcuts, se=model.se, batch_norm=model.batch_norm)
            block.to(next(model.parameters()).device)
            stage.append(make_identity_(block))
    deeper.blocks_per_stage += extra
    deeper.train(model.training)
    return deeper


@torch.no_grad()
def max_output_difference(a: nn.Module, b: nn.Module, x: torch.Tensor, train_mode: bool = False) -> float:
    """``max |a(x) - b(x)|`` with both models in eval mode (or train mode: batch statistics).

    In train mode the comparison runs on copies, so no BN running statistics change.
    """
    if train_mode:
        a, b = copy.deepcopy(a), copy.deepcopy(b)
    modes = a.training, b.training
    a.train(train_mode)
    b.train(train_mode)
    try:
        return (a(x) - b(x)).abs().max().item()
    finally:
        a.train(modes[0])
        b.train(modes[1])


# --- zero-init of the last BN gamma -----------------------------------------------------------

@torch.no_grad()
def shortcut_deviation(model: nn.Module, x: torch.Tensor) -> list[float]:
    """For every ``BasicBlock`` in forward order: ``max |block(x_in) - relu(shortcut(x_in))|``.

    0 for a block whose residual branch outputs zero (e.g. with ``zero_init_residual``): the
    block then starts as its shortcut, which for stride-1 blocks is the identity (x_in >= 0).
    Runs in train mode (batch statistics), where the check is hardest; modes are restored.
    """
    deviations: list[float] = []

    def hook(block: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        deviations.append((output - F.relu(block.shortcut_of(inputs[0]))).abs().max().item())  # type: ignore[operator]

    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    handles = [b.register_forward_hook(hook) for b in blocks]
    was_training = model.training
    state = copy.deepcopy(model.state_dict())  # BN running stats must not change
    model.train()
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
        model.load_state_dict(state)
        model.train(was_training)
    return deviations


# --- gradients at initialisation --------------------------------------------------------------

def gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """L2 norm of the cross-entropy loss's gradient w.r.t. each conv/linear weight, one batch.

    In forward (input-to-output) order, computed in train mode as the first training step
    would; the model's parameters, gradients and BN statistics are left untouched.
    """
    probe = copy.deepcopy(model).train()
    probe.zero_grad(set_to_none=True)
    F.cross_entropy(probe(x), y).backward()
    return {name: m.weight.grad.norm().item() for name, m in probe.named_modules()  # type: ignore[union-attr]
            if isinstance(m, (nn.Conv2d, nn.Linear))}


# --- the degradation experiment ---------------------------------------------------------------

@dataclass
class Run:
    """One trained net: its family ("plain"/"residual"), depth, seed, history and final errors."""

    family: str
    depth: int
    seed: int
    history: History
    train_error: float   # eval mode, on (a fixed subset of) the training images
    test_error: float    # eval mode, on held-out images
    model: nn.Module = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.family}-{self.depth}"

    @property
    def final_window_error(self) -> float:
        """Mean training error (train mode, as the batches went by) over the last evaluation window."""
        return self.history.train_error[-1]


@dataclass
class DegradationResult:
    runs: list[Run] = field(default_factory=list)

    def get(self, family: str, depth: int) -> list[Run]:
        return [r for r in self.runs if r.family == family and r.depth == depth]

    def mean(self, family: str, depth: int, key: str = "train_error") -> float:
        return statistics.fmean(getattr(r, key) for r in self.get(family, depth))

    def per_seed(self, family: str, depth: int, key: str = "train_error") -> list[float]:
        return [getattr(r, key) for r in self.get(family, depth)]

    def table(self) -> str:
        """Per net: mean (over seeds) final training error (train mode, last window), training
        error and test error in eval mode, and seconds per run."""
        names = sorted({(r.family, r.depth) for r in self.runs})
        lines = [f"{'net':<13} {'train err (last window)':>23} {'train err (eval)':>16} {'test err':>9} {'s/run':>6}"]
        for family, depth in names:
            runs = self.get(family, depth)
            lines.append(f"{family + '-' + str(depth):<13} {self.mean(family, depth, 'final_window_error'):>23.3f} "
                         f"{self.mean(family, depth):>16.3f} {self.mean(family, depth, 'test_error'):>9.3f} "
                         f"{statistics.fmean(r.history.seconds for r in runs):>6.1f}")
        return "\n".join(lines)

    def plot(self, ax=None, chance: float | None = None):
        """Training error (train mode, per evaluation window) against steps: one colour per net,
        thin lines per seed, thick line the mean over seeds."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        styles = {"plain": "--", "residual": "-"}
        for i, (family, depth) in enumerate(sorted({(r.family, r.depth) for r in self.runs})):
            runs = self.get(family, depth)
            colour = f"C{i}"
            for r in runs:
                ax.plot(r.history.eval_step, r.history.train_error, styles[family], color=colour, lw=0.7, alpha=0.4)
            mean = [statistics.fmean(v) for v in zip(*(r.history.train_error for r in runs))]
            ax.plot(runs[0].history.eval_step, mean, styles[family], color=colour, lw=2.2,
                    label=f"{family}-{depth}")
        if chance is not None:
            ax.axhline(chance, color="grey", lw=0.8, ls=":", label="chance")
        ax.set_xlabel("SGD step")
        ax.set_ylabel("training error")
        ax.set_ylim(0, 1)
        ax.legend()
        return ax


def shapes_task(n_train: int, n_test: int, *, size: int = 16, classes: int = 20, seed: int = 0):
    """Train/test tensors from ``make_shapes``: the first ``classes`` shape classes, ``size`` pixels."""
    if not 2 <= classes <= len(CLASS_NAMES):
        raise ValueError(f"classes must be in [2, {len(CLASS_NAMES)}]; got {classes}")
    x, y = make_shapes(n_train + n_test, size=size, classes=CLASS_NAMES[:classes], seed=seed)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def degradation_experiment(depths: Sequence[int] = (8, 32), seeds: Sequence[int] = (0,), *,
                           steps: int = 300, batch_size: int = 64, lr: float = 0.05,
                           momentum: float = 0.9, weight_decay: float = 0.0, n_train: int = 4000,
                           n_test: int = 1000, size: int = 16, classes: int = 20,
                           widths: Sequence[int] = (8, 16, 32), eval_every: int = 25,
                           families: Sequence[str] = ("plain", "residual"),
                           device: torch.device | str = "cpu", data_seed: int = 0,
                           show_progress: bool = True) -> DegradationResult:
    """Train every (family, depth) net for the same ``steps`` SGD steps, once per seed.

    The data are fixed (``data_seed``); each seed changes the initialisation and the batch
    order. Each run records its ``History`` (training error per window of ``eval_every`` steps)
    and, at the end, the error in eval mode on the first ``n_test`` training images and on
    ``n_test`` held-out images: degradation is a TRAINING-error effect, not overfitting.
    """
    if any(f not in ("plain", "residual") for f in families):
        raise ValueError(f"families must be drawn from ('plain', 'residual'); got {families!r}")
    (xtr, ytr), (xte, yte) = shapes_task(n_train, n_test, size=size, classes=classes, seed=data_seed)
    train_probe = Batches(xtr[:n_test], ytr[:n_test], 500, shuffle=False)
    test = Batches(xte, yte, 500, shuffle=False)
    result = DegradationResult()
    for seed in seeds:
        for family in families:
            for depth in depths:
                seed_everything(seed)
                model = cifar_resnet(depth, shortcuts=family == "residual", num_classes=classes, widths=widths)
                optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
                history = fit(model, Batches(xtr, ytr, batch_size, seed=seed, device=device), optimizer,
                              steps=steps, eval_every=eval_every, device=device,
                              desc=f"{family}-{depth} seed {seed}", show_progress=show_progress)
                _, train_error = evaluate(model, train_probe, device)
                _, test_error = evaluate(model, test, device)
                result.runs.append(Run(family, depth, seed, history, train_error, test_error, model))
    return result


# --- the ImageNet ResNets (torchvision) -------------------------------------------------------

@dataclass(frozen=True)
class StageInfo:
    """One stage of a torchvision ResNet: block type, count, widths and the first block's stride."""

    name: str
    block: str              # "BasicBlock" (two 3x3 convs) or "Bottleneck" (1x1, 3x3, 1x1)
    blocks: int
    kernel_sizes: tuple[int, ...]   # of one block's convs, in order
    width: int              # filters of the 3x3 convs
    out_channels: int
    first_stride: int


def resnet_stages(model: nn.Module) -> list[StageInfo]:
    """Describe ``layer1..layer4`` of a torchvision ResNet, read from its modules."""
    stages = []
    for name in ("layer1", "layer2", "layer3", "layer4"):
        layer = getattr(model, name)
        first = layer[0]
        shortcut = set(first.downsample.modules()) if first.downsample is not None else set()
        convs = [m for m in first.modules() if isinstance(m, nn.Conv2d) and m not in shortcut]
        kernels = tuple(c.kernel_size[0] for c in convs)
        widths = [c.out_channels for c in convs if c.kernel_size == (3, 3)]
        stride = max(c.stride[0] for c in convs)
        stages.append(StageInfo(name, type(first).__name__, len(layer), kernels, widths[0],
                                convs[-1].out_channels, stride))
    return stages


def with_se(model: nn.Module, reduction: int = 16) -> nn.Module:
    """A copy of a torchvision ResNet with an SE block on every residual branch (SE-ResNet).

    As in Hu et al. (2018, Fig. 3): the SE block rescales the branch's output after its last
    BN, before the shortcut is added: ``bn3`` (``bn2`` for basic blocks) becomes
    ``Sequential(bn, SEBlock(C, reduction))``.
    """
    from torchvision.models.resnet import BasicBlock as TVBasic, Bottleneck

    from .models.se import SEBlock

    model = copy.deepcopy(model)
    for block in model.modules():
        if isinstance(block, Bottleneck):
            block.bn3 = nn.Sequential(block.bn3, SEBlock(block.bn3.num_features, reduction))
        elif isinstance(block, TVBasic):
            block.bn2 = nn.Sequential(block.bn2, SEBlock(block.bn2.num_features, reduction))
    return model
