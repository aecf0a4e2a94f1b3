"""The Inception module of GoogLeNet (Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan,
Vanhoucke, Rabinovich, "Going Deeper with Convolutions", CVPR 2015, arXiv:1409.4842).

Four parallel branches look at the same input (C_in channels, H x W) and their outputs are
concatenated along the channels::

    branch1: 1x1 conv (#1x1)
    branch2: [1x1 conv (#3x3 reduce)] -> 3x3 conv (#3x3)
    branch3: [1x1 conv (#5x5 reduce)] -> 5x5 conv (#5x5)
    branch4: 3x3 max pool, stride 1 -> [1x1 conv (pool proj)]

Every conv has "same" padding and stride 1, so H and W are preserved, and is followed by a
ReLU (as in the paper). The names in brackets are the paper's Table 1 columns; without the
bracketed 1x1 "bottleneck" convolutions this is the *naive* module of the paper's Figure 2(a),
whose pool branch passes all C_in channels through, so the output depth
``#1x1 + #3x3 + #5x5 + C_in`` always exceeds the input depth.

Cost of one stride-1 "same" conv with k x k kernels from C_in to C_out channels on H x W
(multiply-adds, per image)::

    MACs = H * W * C_out * k * k * C_in         params = C_out * k * k * C_in + C_out (bias)

``branch_costs`` applies that formula term by term; the lesson checks it against
``cnnlessons.analysis.cost.count`` on the real module.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..io import Table


def _positive(name: str, value: object, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        valid = "a positive integer" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {valid}; got {value!r}")


def conv_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> nn.Sequential:
    """A convolution with "same" padding (``kernel_size // 2``), followed by a ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2),
                         nn.ReLU(inplace=True))


class Inception(nn.Module):
    """An Inception module with the paper's Table 1 widths; a reducer of ``None`` leaves the
    1x1 bottleneck out (``pool_proj=None``: the pool branch keeps all ``in_channels``)."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int | None, ch3x3: int,
                 ch5x5red: int | None, ch5x5: int, pool_proj: int | None) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("ch1x1", ch1x1), ("ch3x3", ch3x3), ("ch5x5", ch5x5)):
            _positive(name, value)
        for name, value in (("ch3x3red", ch3x3red), ("ch5x5red", ch5x5red), ("pool_proj", pool_proj)):
            _positive(name, value, allow_none=True)
        self.in_channels = in_channels
        self.branch1 = conv_relu(in_channels, ch1x1, 1)
        self.branch2 = self._reduced(in_channels, ch3x3red, ch3x3, 3)
        self.branch3 = self._reduced(in_channels, ch5x5red, ch5x5, 5)
        pool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.branch4 = nn.Sequential(pool) if pool_proj is None else nn.Sequential(pool, conv_relu(in_channels, pool_proj, 1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + (in_channels if pool_proj is None else pool_proj)

    @staticmethod
    def _reduced(in_channels: int, reduce: int | None, out_channels: int, kernel_size: int) -> nn.Sequential:
        if reduce is None:
            return conv_relu(in_channels, out_channels, kernel_size)
        return nn.Sequential(conv_relu(in_channels, reduce, 1), conv_relu(reduce, out_channels, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


def layer_names(module: nn.Module, prefix: str = "") -> dict[str, str]:
    """Each layer of an Inception module (or of any model made of them) named as the paper's
    Table 1 names it, for ``cnnlessons.diagram(..., labels=...)``: ``{module path: name}``, e.g.
    ``"branch2.0.0": "1x1 reduce, 64"``, ``"branch2.1.0": "3x3, 192"``,
    ``"branch4.0": "max pool 3x3/1, pad 1"``, ``"branch4.1.0": "1x1 pool proj, 64"``. Every
    convolution is followed by a ReLU. A module counts as an Inception module when it has the
    four branches ``branch1`` ... ``branch4`` (``Inception`` and modules written like it)."""
    names: dict[str, str] = {}
    for path, m in module.named_modules(prefix=prefix.rstrip(".")):
        if not all(isinstance(getattr(m, f"branch{i}", None), nn.Module) for i in range(1, 5)):
            continue
        dot = f"{path}." if path else ""
        for branch in ("branch1", "branch2", "branch3", "branch4"):
            for name, layer in getattr(m, branch).named_modules(prefix=f"{dot}{branch}"):
                if isinstance(layer, nn.Conv2d):
                    k = layer.kernel_size[0]
                    role = ("pool proj" if branch == "branch4" else "reduce") if k == 1 and branch != "branch1" else ""
                    names[name] = f"{k}x{k}{' ' + role if role else ''}, {layer.out_channels}"
                elif isinstance(layer, nn.MaxPool2d):
                    names[name] = f"max pool {layer.kernel_size}x{layer.kernel_size}/{layer.stride}, pad {layer.padding}"
    return names


def inception_module(in_channels: int, c1x1: int, c3x3: int, c5x5: int, bottleneck: int | None = None) -> Inception:
    """The module of the CS231n GoogLeNet slides: 1x1, 3x3 and 5x5 convolutions of ``c1x1``,
    ``c3x3``, ``c5x5`` filters and a 3x3 max pool, in parallel. With ``bottleneck=b``, 1x1
    convolutions of ``b`` filters go before the 3x3 and the 5x5 and after the pool."""
    _positive("bottleneck", bottleneck, allow_none=True)
    return Inception(in_channels, c1x1, bottleneck, c3x3, bottleneck, c5x5, bottleneck)


@dataclass(frozen=True)
class ConvTerm:
    """One convolution of a branch, with its hand-formula cost."""

    branch: str
    label: str          # as on the slide, e.g. "[3x3 conv, 192]"
    size: int           # H = W of the feature map
    kernel: int
    in_channels: int
    out_channels: int

    @property
    def macs(self) -> int:
        """H * W * C_out * k * k * C_in."""
        return self.size * self.size * self.out_channels * self.kernel * self.kernel * self.in_channels

    @property
    def params(self) -> int:
        """C_out * k * k * C_in weights plus C_out biases."""
        return self.out_channels * self.kernel * self.kernel * self.in_channels + self.out_channels

    @property
    def formula(self) -> str:
        s = self.size
        return f"{s}x{s}x{self.out_channels}x{self.kernel}x{self.kernel}x{self.in_channels}"


BRANCHES = ("1x1", "3x3", "5x5", "pool")


@dataclass(frozen=True)
class InceptionCost:
    """Hand-formula cost of an Inception module: every conv term, grouped by branch, and
    the depth (channels) each branch adds to the concatenated output."""

    terms: tuple[ConvTerm, ...]
    depths: dict[str, int]

    @property
    def macs(self) -> int:
        return sum(t.macs for t in self.terms)

    @property
    def params(self) -> int:
        return sum(t.params for t in self.terms)

    @property
    def out_channels(self) -> int:
        return sum(self.depths.values())

    def branch_macs(self) -> dict[str, int]:
        """Multiply-adds per branch, in ``BRANCHES`` order (the pool itself costs none)."""
        return {b: sum(t.macs for t in self.terms if t.branch == b) for b in BRANCHES}

    def table(self, caption: str = "") -> Table:
        """Every convolution's hand formula and multiply-adds, with the total, as a table."""
        rows = [[f"{t.branch} branch", t.label, t.formula, f"{t.macs:,}"] for t in self.terms]
        rows.append(["total", "", "", f"{self.macs:,}"])
        return Table(["branch", "convolution", "H x W x C_out x k x k x C_in", "multiply-adds"], rows, caption=caption)


def branch_costs(in_channels: int, c1x1: int, c3x3: int, c5x5: int, bottleneck: int | None = None,
                 size: int = 28) -> InceptionCost:
    """Hand-formula multiply-adds and parameters of ``inception_module(...)`` on a
    ``size x size`` map: one ``ConvTerm`` per convolution, in branch order."""
    for name, value in (("in_channels", in_channels), ("c1x1", c1x1), ("c3x3", c3x3), ("c5x5", c5x5), ("size", size)):
        _positive(name, value)
    _positive("bottleneck", bottleneck, allow_none=True)
    b = bottleneck
    terms = [ConvTerm("1x1", f"[1x1 conv, {c1x1}]", size, 1, in_channels, c1x1)]
    for branch, k, width in (("3x3", 3, c3x3), ("5x5", 5, c5x5)):
        if b is not None:
            terms.append(ConvTerm(branch, f"[1x1 conv, {b}]", size, 1, in_channels, b))
        terms.append(ConvTerm(branch, f"[{k}x{k} conv, {width}]", size, k, in_channels if b is None else b, width))
    if b is not None:
        terms.append(ConvTerm("pool", f"[1x1 conv, {b}]", size, 1, in_channels, b))
    depths = {"1x1": c1x1, "3x3": c3x3, "5x5": c5x5, "pool": in_channels if b is None else b}
    return InceptionCost(tuple(terms), depths)


def break_even_bottleneck(in_channels: int, c1x1: int, c3x3: int, c5x5: int, size: int = 28) -> int:
    """The widest bottleneck ``b`` whose module costs no more multiply-adds than the naive one.

    Every term of the bottleneck module but the 1x1 branch is proportional to ``b``::

        cost(b) = H W c1x1 C_in + b H W (3 C_in + 9 c3x3 + 25 c5x5)

    (three reducers over ``C_in`` channels, then the 3x3 and 5x5 filters over ``b``), so
    ``b* = floor((naive - H W c1x1 C_in) / (H W (3 C_in + 9 c3x3 + 25 c5x5)))``. It lies
    below ``C_in``: the reducers cost something too.
    """
    naive = branch_costs(in_channels, c1x1, c3x3, c5x5, size=size).macs
    fixed = size * size * c1x1 * in_channels
    slope = size * size * (3 * in_channels + 9 * c3x3 + 25 * c5x5)
    return (naive - fixed) // slope


# --------------------------------------------------------------------------- the paper's GoogLeNet

# Table 1 of the paper, one row per Inception module:
# name -> (input depth, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
GOOGLENET_TABLE1: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}

# Table 1's last two columns as printed: parameters in thousands ("K") and multiply-adds
# ("ops") in millions, per row of the table (the pools have none).
GOOGLENET_TABLE1_PARAMS_K: dict[str, float] = {
    "conv1": 2.7, "conv2": 112, "3a": 159, "3b": 380, "4a": 364, "4b": 437, "4c": 463, "4d": 580,
    "4e": 840, "5a": 1072, "5b": 1388, "fc": 1000,
}
GOOGLENET_TABLE1_OPS_M: dict[str, float] = {
    "conv1": 34, "conv2": 360, "3a": 128, "3b": 304, "4a": 73, "4b": 88, "4c": 100, "4d": 119,
    "4e": 170, "5a": 54, "5b": 71, "fc": 1,
}


class AuxiliaryHead(nn.Module):
    """The paper's auxiliary classifier (section 5), attached to the outputs of 4a and 4d:
    5x5 average pool with stride 3 (14x14 -> 4x4), 1x1 conv of 128 filters + ReLU, a fully
    connected layer of 1024 units + ReLU, 70% dropout and a linear classifier. Its loss was
    added to the main loss with weight 0.3 during training; it is dropped at inference."""

    def __init__(self, in_channels: int, num_classes: int = 1000) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv = conv_relu(in_channels, 128, 1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.dropout = nn.Dropout(p=0.7)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """GoogLeNet as the paper's Table 1 and Figure 3 build it (not torchvision's variant,
    which uses 3x3 kernels in the "5x5" branches and adds batch norm).

    ``conv1`` (7x7/2, 64) -> 3x3/2 max pool -> LRN -> ``conv2`` (1x1 64, then 3x3 192) -> LRN
    -> 3x3/2 max pool -> 3a, 3b -> max pool -> 4a ... 4e -> max pool -> 5a, 5b -> **global
    average pooling** (7x7 -> 1x1, no parameters) -> 40% dropout -> one linear layer to the
    classes. 22 layers with parameters on the longest path. Every convolution has a bias and
    a ReLU. With ``aux_logits=True`` two ``AuxiliaryHead`` classifiers read 4a and 4d; in
    training mode ``forward`` then returns ``(logits, aux1, aux2)``, in eval mode the logits.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False) -> None:
        super().__init__()
        t = GOOGLENET_TABLE1
        self.conv1 = conv_relu(3, 64, 7, stride=2)
        self.pool1 = nn.MaxPool2d(3, stride=2, padding=1)
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
        self.conv2 = nn.Sequential(conv_relu(64, 64, 1), conv_relu(64, 192, 3))
        self.norm2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
        self.pool2 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception3a, self.inception3b = Inception(*t["3a"]), Inception(*t["3b"])
        self.pool3 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception4a, self.inception4b, self.inception4c = Inception(*t["4a"]), Inception(*t["4b"]), Inception(*t["4c"])
        self.inception4d, self.inception4e = Inception(*t["4d"]), Inception(*t["4e"])
        self.pool4 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception5a, self.inception5b = Inception(*t["5a"]), Inception(*t["5b"])
        self.avgpool = nn.AdaptiveAvgPool2d(1)   # global average pooling: one number per channel
        self.dropout = nn.Dropout(p=0.4)
        self.fc = nn.Linear(1024, num_classes)
        self.aux1 = AuxiliaryHead(512, num_classes) if aux_logits else None
        self.aux2 = AuxiliaryHead(528, num_classes) if aux_logits else None

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.norm1(self.pool1(self.conv1(x)))
        x = self.pool2(self.norm2(self.conv2(x)))
        x = self.pool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.pool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if aux1 is not None and aux2 is not None:
            return logits, aux1, aux2
        return logits


def googlenet_paper(num_classes: int = 1000, aux_logits: bool = False) -> GoogLeNet:
    """The paper's GoogLeNet (Table 1), see ``GoogLeNet``."""
    return GoogLeNet(num_classes, aux_logits)


def table1_rows(model: GoogLeNet) -> dict[str, nn.Module]:
    """The modules behind each parameter-carrying row of Table 1 (``conv1`` ... ``fc``)."""
    rows: dict[str, nn.Module] = {"conv1": model.conv1, "conv2": model.conv2}
    rows.update({name: getattr(model, f"inception{name}") for name in GOOGLENET_TABLE1})
    rows["fc"] = model.fc
    return rows
