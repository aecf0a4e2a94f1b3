"""The ImageNet winners from AlexNet to SENet: the results table, and each network measured.

``ILSVRC`` holds the classification results (top-5 error, depth) with their sources;
``ARCHITECTURES`` says how to build each network without downloading weights; ``profile``
measures one: depth (weighted layers on the longest path), parameters and multiply-adds
(``cnnlessons.analysis.cost.count``) and the receptive field of its last feature map
(``cnnlessons.analysis.receptive.receptive_field``), next to torchvision's published figures where
torchvision ships weights (its weights metadata is part of the package: no download).

Networks are built on ``torch.device("meta")`` by default: tensors with shapes and no data,
so building VGG-19 or ResNet-152 and tracing them costs no arithmetic, and every count is
exactly what the real network gives (parameters and multiply-adds depend only on shapes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torchvision
from torch import nn

from ..analysis import count
from ..models.se_resnet import se_resnet50
from ..models.zfnet import zfnet
from ..analysis import ReceptiveFieldError, receptive_field


@dataclass(frozen=True)
class IlsvrcResult:
    """The winning ILSVRC classification entry of one year."""

    year: int
    entry: str
    top5: float              # top-5 error, %
    depth: int | None        # weighted layers of its one CNN design; None: not a CNN, or an ensemble
    source: str
    cnn: bool = True         # False for the pre-CNN winners (hand-designed features + SVMs)


ILSVRC: tuple[IlsvrcResult, ...] = (
    IlsvrcResult(2010, "NEC-UIUC (Lin et al.)", 28.2, None, "ILSVRC 2010 results; shallow features + SVMs", cnn=False),
    IlsvrcResult(2011, "XRCE (Sanchez & Perronnin)", 25.8, None, "ILSVRC 2011 results; Fisher vectors", cnn=False),
    IlsvrcResult(2012, "AlexNet", 16.4, 8, "Krizhevsky et al. 2012 (five-CNN average; 15.3% with extra data)"),
    IlsvrcResult(2013, "ZFNet", 11.7, 8, "Zeiler & Fergus 2013 (ILSVRC 2013, Clarifai)"),
    IlsvrcResult(2014, "VGG (runner-up)", 7.3, 19, "Simonyan & Zisserman 2014"),
    IlsvrcResult(2014, "GoogLeNet", 6.7, 22, "Szegedy et al. 2014 (6.67%)"),
    IlsvrcResult(2015, "ResNet", 3.57, 152, "He et al. 2015"),
    IlsvrcResult(2016, "Trimps-Soushen (ensemble)", 3.0, None,
                 "ILSVRC 2016 results; an ensemble of Inception, ResNet and Wide ResNet CNNs"),
    IlsvrcResult(2017, "SENet", 2.25, None, "Hu et al. 2017 (2.251%); an ensemble of SE networks"),
)
HUMAN_TOP5 = 5.1
HUMAN_SOURCE = "Russakovsky et al., ImageNet Large Scale Visual Recognition Challenge, IJCV 2015"


def _googlenet() -> nn.Module:
    # As released: without the two auxiliary heads, which only help training.
    return torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)


@dataclass(frozen=True)
class Architecture:
    name: str
    year: int
    build: Callable[[], nn.Module]
    torchvision_name: str | None    # where torchvision publishes weights (and their metadata)
    idea: str                       # what it changed


def _tv(name: str) -> Callable[[], nn.Module]:
    return lambda: torchvision.models.get_model(name, weights=None)


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture("AlexNet", 2012, _tv("alexnet"), "alexnet", "deep CNN on GPUs: ReLU, dropout, data augmentation"),
    Architecture("ZFNet", 2013, zfnet, None, "smaller first-layer filters (7x7/2), wider conv3-5"),
    Architecture("VGG-16", 2014, _tv("vgg16"), "vgg16", "only 3x3 convs, deeper"),
    Architecture("VGG-19", 2014, _tv("vgg19"), "vgg19", "only 3x3 convs, deeper"),
    Architecture("GoogLeNet", 2014, _googlenet, "googlenet", "Inception modules with 1x1 bottlenecks, no big FC layers"),
    Architecture("ResNet-18", 2015, _tv("resnet18"), "resnet18", "residual connections"),
    Architecture("ResNet-34", 2015, _tv("resnet34"), "resnet34", "residual connections"),
    Architecture("ResNet-50", 2015, _tv("resnet50"), "resnet50", "residual connections + 1x1 bottleneck blocks"),
    Architecture("ResNet-101", 2015, _tv("resnet101"), "resnet101", "residual connections + 1x1 bottleneck blocks"),
    Architecture("ResNet-152", 2015, _tv("resnet152"), "resnet152", "residual connections + 1x1 bottleneck blocks"),
    Architecture("SE-ResNet-50", 2017, se_resnet50, None, "squeeze-and-excitation channel gates"),
)


def get_architecture(name: str) -> Architecture:
    for arch in ARCHITECTURES:
        if arch.name == name:
            return arch
    raise KeyError(f"no architecture {name!r}; choose from {[a.name for a in ARCHITECTURES]}")


@dataclass(frozen=True)
class Published:
    """torchvision's figures for its ``IMAGENET1K_V1`` weights (read from the package)."""

    params: int
    gmacs: float         # torchvision's "GFLOPS" (multiply-adds, 224x224)
    acc1: float          # ImageNet-1k validation top-1 accuracy, %
    acc5: float
    source: str


def published(torchvision_name: str) -> Published:
    """The metadata torchvision ships with ``torchvision_name``'s ImageNet weights (offline)."""
    weights = torchvision.models.get_model_weights(torchvision_name).IMAGENET1K_V1
    meta = weights.meta
    metrics = meta["_metrics"]["ImageNet-1K"]
    return Published(meta["num_params"], meta["_ops"], metrics["acc@1"], metrics["acc@5"],
                     f"torchvision {torchvision.__version__}, {weights}")


@dataclass(frozen=True)
class Profile:
    """One architecture, measured."""

    name: str
    year: int
    depth: int                       # weighted layers on the longest input-output path
    weighted_layers: int             # all conv/linear layers that ran
    params: int
    macs: int
    receptive_field: int | None      # at the last feature map, in input pixels (None: not defined)
    published: Published | None

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9


def profile(arch: Architecture | str, input_size: int = 224, device: str | torch.device = "meta") -> Profile:
    """Build ``arch`` on ``device`` (no weights), in eval mode, and measure it on a
    ``3 x input_size x input_size`` image. SE gates (global context) are ignored for the
    receptive field, as is usual."""
    arch = get_architecture(arch) if isinstance(arch, str) else arch
    with torch.device(device):
        model = arch.build().eval()
    cost = count(model, (3, input_size, input_size))
    rf = _last_field(model, input_size)
    rf_size = rf if isinstance(rf, int) or rf is None else max(rf)
    return Profile(arch.name, arch.year, cost.depth, cost.weighted_layers, cost.params, cost.macs, rf_size,
                   published(arch.torchvision_name) if arch.torchvision_name else None)


def _last_field(model: nn.Module, input_size: int) -> int | tuple[int, int] | None:
    """Receptive field of the last feature map; if the map cannot be found past an adaptive
    pool that resamples it (AlexNet/VGG below 224), that of the ``features`` block's output."""
    candidates = ["last_feature_map"] + (["features"] if hasattr(model, "features") else [])
    for at in candidates:
        try:
            return receptive_field(model, (3, input_size, input_size), at=at, ignore_global_context=True).size
        except ReceptiveFieldError:
            continue
    return None


def survey(names: Sequence[str] | None = None, input_size: int = 224,
           device: str | torch.device = "meta") -> list[Profile]:
    """``profile`` of every architecture in ``ARCHITECTURES`` (or of ``names``), in order."""
    chosen = ARCHITECTURES if names is None else tuple(get_architecture(n) for n in names)
    return [profile(arch, input_size, device) for arch in chosen]


# --------------------------------------------------------------------------- the whole zoo

TRANSFORMER_FAMILIES = ("vit", "swin", "swin_v2", "maxvit")
_FAMILIES = ("efficientnet_v2", "efficientnet", "mobilenet_v2", "mobilenet_v3", "shufflenet_v2", "regnet_x",
             "regnet_y", "swin_v2", "swin", "wide_resnet", "resnext", "resnet", "vgg", "densenet", "squeezenet",
             "mnasnet", "convnext", "maxvit", "vit", "alexnet", "googlenet", "inception_v3")


def family(name: str) -> str:
    """The family of a torchvision model name: ``"resnet50"`` -> ``"resnet"``."""
    return next((f for f in _FAMILIES if name.startswith(f)), name)


GROUPS: dict[str, tuple[str, ...]] = {
    "2012-2015 classics (AlexNet, VGG, Inception)": ("alexnet", "vgg", "googlenet", "inception_v3"),
    "ResNet and variants": ("resnet", "resnext", "wide_resnet"),
    "DenseNet": ("densenet",),
    "compact (SqueezeNet, MobileNet, MnasNet, ShuffleNet)": ("squeezenet", "mobilenet_v2", "mobilenet_v3", "mnasnet",
                                                             "shufflenet_v2"),
    "EfficientNet": ("efficientnet", "efficientnet_v2"),
    "RegNet": ("regnet_x", "regnet_y"),
    "ConvNeXt": ("convnext",),
    "transformers (ViT, Swin, MaxViT)": TRANSFORMER_FAMILIES,
}


def group(name: str) -> str:
    """The ``GROUPS`` entry (a few families of one design line) of a torchvision model name."""
    fam = family(name)
    return next(g for g, families in GROUPS.items() if fam in families)


class _ParametersOnMeta(torch.overrides.TorchFunctionMode):
    """Puts new tensors made without a device (parameters, buffers) on ``meta``, so that a
    model builder that computes its layout with real tensors (RegNet's widths) still works."""

    FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn, torch.tensor}

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        kwargs = dict(kwargs or {})
        if func in self.FACTORIES and kwargs.get("device") is None and func is not torch.tensor:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def build_zoo_model(name: str, device: str | torch.device = "meta", image_size: int | None = None) -> nn.Module:
    """torchvision's ``name`` without weights, in eval mode (GoogLeNet and Inception-v3 as
    released: no auxiliary heads; ViTs for ``image_size``), built on ``device`` (no memory,
    no init on ``meta``)."""
    # Published parameter counts: GoogLeNet's without its auxiliary heads, Inception-v3's with
    # its one (inactive in eval mode, so it costs no multiply-adds either way).
    kwargs: dict = {"aux_logits": name == "inception_v3", "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    if family(name) == "vit" and image_size is not None:
        kwargs["image_size"] = image_size
    if torch.device(device).type != "meta":
        with torch.device(device):
            return torchvision.models.get_model(name, weights=None, **kwargs).eval()
    with _ParametersOnMeta():
        model = torchvision.models.get_model(name, weights=None, **kwargs)
    return model.to("meta").eval()


@dataclass(frozen=True)
class ZooRow:
    """One torchvision classification model: published figures and our measurements."""

    name: str
    family: str
    is_cnn: bool
    image_size: int                  # the evaluation crop of its default weights
    acc1: float                      # ImageNet-1K top-1 of its default weights, %
    published_params: int
    published_gmacs: float           # torchvision's "GFLOPS" (multiply-adds) at image_size
    params: int                      # counted
    macs: int                        # counted, at image_size
    receptive_field: int | None      # of its last feature map (CNNs), in input pixels
    ignored_gates: int               # SE-style gates ignored for the receptive field

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    @property
    def cost_error(self) -> float:
        """Relative difference between counted and published multiply-adds."""
        return self.gmacs / self.published_gmacs - 1

    @property
    def cost_error_beyond_rounding(self) -> float:
        """``cost_error`` once the published figure's rounding (to 3 decimals of G) is allowed for."""
        return max(0.0, abs(self.macs / 1e9 - self.published_gmacs) - 0.0005) / self.published_gmacs


def zoo_names() -> list[str]:
    """Every torchvision classification model (``list_models(module=torchvision.models)``)."""
    return torchvision.models.list_models(module=torchvision.models)


def zoo_row(name: str) -> ZooRow:
    """Measure torchvision's ``name`` and read its weights' metadata (offline).

    The model is measured as a user has it: real CPU tensors, eval mode. It is built on
    ``meta`` and given CPU memory with ``to_empty``, which skips the random initialisation (for
    the biggest models nearly all of the build time): a count depends on shapes, dtypes and
    the device, never on the weights' values."""
    weights = torchvision.models.get_model_weights(name).DEFAULT
    meta = weights.meta
    size = int(weights.transforms().crop_size[0])
    model = build_zoo_model(name, image_size=size)
    # Under torch.use_deterministic_algorithms (seed_everything) new memory is filled with NaN:
    # gigabytes of writes for the big models, for values that are never read.
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        model = model.to_empty(device="cpu")
    finally:
        torch.utils.deterministic.fill_uninitialized_memory = fill
    cost = count(model, (3, size, size))
    is_cnn = family(name) not in TRANSFORMER_FAMILIES
    rf_size, gates = None, 0
    if is_cnn:
        rf = receptive_field(model, (3, size, size), at="last_feature_map")
        rf_size, gates = max(rf.size_hw), len(rf.ignored_gates)
    return ZooRow(name, family(name), is_cnn, size, meta["_metrics"]["ImageNet-1K"]["acc@1"], meta["num_params"],
                  meta["_ops"], cost.params, cost.macs, rf_size, gates)


_ZOO_CACHE: dict[str, ZooRow] = {}


def zoo(names: Sequence[str] | None = None) -> list[ZooRow]:
    """``zoo_row`` of every torchvision classification model (or of ``names``); rows are
    computed once per process and kept in memory."""
    out = []
    for name in (zoo_names() if names is None else names):
        if name not in _ZOO_CACHE:
            _ZOO_CACHE[name] = zoo_row(name)
        out.append(_ZOO_CACHE[name])
    return out


def pareto_front(rows: Sequence[ZooRow]) -> list[ZooRow]:
    """The rows no other row beats on both axes (fewer multiply-adds and higher top-1),
    sorted by multiply-adds."""
    front, best = [], -1.0
    for row in sorted(rows, key=lambda r: (r.macs, -r.acc1)):
        if row.acc1 > best:
            front.append(row)
            best = row.acc1
    return front
