"""What a frozen network computes for a set of images: every stage's output, averaged over space.

A ResNet is a stem followed by residual stages ``layer1, layer2, ...`` (``residual_stages``); its
classifier ``fc`` reads the last stage's output ``h_S(x)`` (channels x height x width) averaged
over space. For stage ``k`` the **pooled features** are

    f_k(x) = (1 / HW) sum_{i, j} h_k(x)[:, i, j]        (one number per channel)

A linear probe reads ``f_S`` (the last stage) or an earlier ``f_k``; ``finetune_last`` trains the
last stage on the full maps that enter it, ``h_{S-1}(x)``, which are computed once here.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...models.stages import residual_stages


@dataclass(frozen=True)
class Features:
    """The features of one set of images: ``pooled[k]`` is ``f_{k+1}``, shape (N, C_{k+1});
    ``last_input`` is ``h_{S-1}``, the maps entering the last stage, shape (N, C, H, W)."""

    pooled: tuple[torch.Tensor, ...]
    last_input: torch.Tensor

    @property
    def stages(self) -> int:
        return len(self.pooled)

    def __len__(self) -> int:
        return len(self.last_input)


@torch.no_grad()
def extract(model: nn.Module, x: torch.Tensor, device: torch.device | str = "cpu", batch_size: int = 500) -> Features:
    """Run ``model`` in eval mode over images ``x`` and keep every stage's pooled output and the
    maps entering the last stage (``Features``), on the CPU.

    Stages are found by ``residual_stages`` and must run one after the other, as in a ResNet; a
    network with fewer than two stages has no earlier stage to freeze, and is refused.
    """
    stages = residual_stages(model)
    if len(stages) < 2:
        raise ValueError(f"{type(model).__name__} has {len(stages)} residual stage(s); transfer needs at least two "
                         f"(the last stage is fine-tuned on the output of the ones before it)")
    device = torch.device(device)
    was_training = model.training
    model.to(device).eval()
    outputs: list[torch.Tensor] = []
    hooks = [stage.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for stage in stages]
    pooled: list[list[torch.Tensor]] = [[] for _ in stages]
    last_input = []
    try:
        for start in range(0, len(x), batch_size):
            outputs.clear()
            model(x[start:start + batch_size].to(device))
            for k, out in enumerate(outputs):
                pooled[k].append(out.float().mean(dim=(2, 3)).cpu())
            last_input.append(outputs[-2].float().cpu())
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return Features(tuple(torch.cat(p) for p in pooled), torch.cat(last_input))
