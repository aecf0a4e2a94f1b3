"""The residual identity argument, done for real: deepening a trained net by construction.

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

Also here: ``shortcut_deviation``, which checks zero-init (every block starts as its shortcut).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..models.cifar_resnet import BasicBlock, CifarResNet, cifar_resnet


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
    if model.se and not model.residual:
        # SE rescales a residual branch F(x) = 0 to 0 (fine), but a plain block would need the
        # SE's sigmoid to output exactly 1, which it never does.
        raise ValueError("deepen cannot make a plain block with SE the identity (sigmoid < 1)")
    deeper = copy.deepcopy(model)
    extra = (depth - model.depth) // 6
    for stage in deeper.stages:
        width = stage[-1].conv2.out_channels
        for _ in range(extra):
            block = BasicBlock(width, width, residual=model.residual, se=model.se, batch_norm=model.batch_norm,
                               se_reduction=model.se_reduction)
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
