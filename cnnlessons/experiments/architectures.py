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

import copy
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
import torchvision
from torch import nn

from ..analysis import count
from ..io import Table
from ..models.se import SEBlock
from ..models.se_resnet import se_resnet50
from ..models.zfnet import zfnet
from ..analysis import ReceptiveFieldError, receptive_field
from .ilsvrc import HUMAN_SOURCE, HUMAN_TOP5, ILSVRC, IlsvrcResult  # noqa: F401  (the tour's timeline)


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
    stand_in: str = ""              # how the network built here differs from the paper's, if it does


def _tv(name: str) -> Callable[[], nn.Module]:
    return lambda: torchvision.models.get_model(name, weights=None)


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture("AlexNet", 2012, _tv("alexnet"), "alexnet", "deep CNN on GPUs: ReLU, dropout, data augmentation",
                 "torchvision's one-GPU variant (Krizhevsky 2014, 'one weird trick'): 64/192/384/256/256 filters "
                 "instead of 96/256/384/384/256, no local response normalisation"),
    Architecture("ZFNet", 2013, zfnet, None, "smaller first-layer filters (7x7/2), wider conv3-5",
                 "the wider variant of Zeiler & Fergus's Table 2 (conv3-5: 512/1024/512), dense connections"),
    Architecture("VGG-16", 2014, _tv("vgg16"), "vgg16", "only 3x3 convs, deeper"),
    Architecture("VGG-19", 2014, _tv("vgg19"), "vgg19", "only 3x3 convs, deeper"),
    Architecture("GoogLeNet", 2014, _googlenet, "googlenet", "Inception modules with 1x1 bottlenecks, no big FC layers",
                 "torchvision's: batch norm after every convolution (the 2014 network had none), and a 3x3 "
                 "kernel in the branch the paper gives a 5x5"),
    Architecture("ResNet-18", 2015, _tv("resnet18"), "resnet18", "residual connections"),
    Architecture("ResNet-34", 2015, _tv("resnet34"), "resnet34", "residual connections"),
    Architecture("ResNet-50", 2015, _tv("resnet50"), "resnet50", "residual connections + 1x1 bottleneck blocks"),
    Architecture("ResNet-101", 2015, _tv("resnet101"), "resnet101", "residual connections + 1x1 bottleneck blocks"),
    Architecture("ResNet-152", 2015, _tv("resnet152"), "resnet152", "residual connections + 1x1 bottleneck blocks"),
    Architecture("SE-ResNet-50", 2017, se_resnet50, None, "squeeze-and-excitation channel gates",
                 "ResNet-50 as torchvision builds it (stride in the 3x3 conv) with the paper's gates (r = 16)"),
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
    depth: int                       # weighted layers on the longest input-output path, gates apart
    weighted_layers: int             # all conv/linear layers that ran, gates included
    params: int
    macs: int
    receptive_field: int | None      # at the last feature map, in input pixels (None: not defined)
    published: Published | None
    gates: int = 0                   # SE gates (each two FC layers off the main path)

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9


def profile(arch: Architecture | str, input_size: int = 224, device: str | torch.device = "meta") -> Profile:
    """Build ``arch`` on ``device`` (no weights), in eval mode, and measure it on a
    ``3 x input_size x input_size`` image. SE gates (global context) are counted apart, as
    the papers do: the depth is that of the network without them ("SE-ResNet-50" is 50 deep,
    with 16 gates of two FC layers each), and the receptive field ignores them."""
    arch = get_architecture(arch) if isinstance(arch, str) else arch
    with torch.device(device):
        model = arch.build().eval()
    cost = count(model, (3, input_size, input_size))
    plain, gates = without_gates(model)
    depth = count(plain, (3, input_size, input_size)).depth if gates else cost.depth
    rf = _last_field(model, input_size)
    rf_size = rf if isinstance(rf, int) or rf is None else max(rf)
    return Profile(arch.name, arch.year, depth, cost.weighted_layers, cost.params, cost.macs, rf_size,
                   published(arch.torchvision_name) if arch.torchvision_name else None, gates)


def without_gates(model: nn.Module) -> tuple[nn.Module, int]:
    """``model`` with each SE gate (``SEBlock``) replaced by the identity, and how many there
    were (``model`` itself, untouched, when there are none)."""
    found = [name for name, m in model.named_modules() if isinstance(m, SEBlock)]
    if not found:
        return model, 0
    plain = copy.deepcopy(model)
    for name in found:
        parent, _, child = name.rpartition(".")
        setattr(plain.get_submodule(parent) if parent else plain, child, nn.Identity())
    return plain, len(found)


def _last_field(model: nn.Module, input_size: int) -> int | tuple[int, int] | None:
    """Receptive field of the last feature map; if the map cannot be found past an adaptive
    pool that resamples it (AlexNet/VGG below 224), that of the ``features`` block's output
    (the last conv stage's, for the course's eight-layer nets)."""
    candidates = (["last_feature_map"] + (["features"] if hasattr(model, "features") else [])
                  + ([model.last_conv_stage] if hasattr(model, "last_conv_stage") else []))
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


def matches_published(p: Profile, input_size: int = 224) -> bool | None:
    """Whether the counted parameters and multiply-adds are torchvision's published figures
    (to their 3 decimals of G); ``None`` where there is nothing to compare (no torchvision
    weights, or an image side other than the published 224)."""
    if p.published is None or input_size != 224:
        return None
    return p.params == p.published.params and round(p.gmacs, 3) == round(p.published.gmacs, 3)


def profile_table(profiles: Sequence[Profile], input_size: int = 224) -> Table:
    """The measured architectures as a table: depth (SE gates apart), all conv/fc layers,
    parameters, multiply-adds, receptive field, and whether the counts equal torchvision's."""
    def same(p: Profile) -> str:
        verdict = matches_published(p, input_size)
        return {True: "yes", False: "NO", None: "-"}[verdict]

    def depth(p: Profile) -> str:
        return f"{p.depth} (+{p.gates} gates)" if p.gates else str(p.depth)

    return Table(["network", "year", "depth", "conv + fc layers", "parameters", "G multiply-adds",
                  "receptive field", "= torchvision's"],
                 [[p.name, str(p.year), depth(p), str(p.weighted_layers), f"{p.params:,}", f"{p.gmacs:.3f}",
                   "-" if p.receptive_field is None else str(p.receptive_field), same(p)] for p in profiles],
                 caption=f"Each network measured on one {input_size}x{input_size} image")


def compare_convs(models: Mapping[str, nn.Module], input_size: int = 224) -> Table:
    """Conv layer by conv layer, each model's output map (side) and multiply-adds (millions),
    then the whole network's parameters and multiply-adds: e.g. AlexNet against ZFNet."""
    costs = {name: count(m, (3, input_size, input_size)) for name, m in models.items()}
    convs = [[layer for layer in c.layers if layer.kind == "Conv2d"] for c in costs.values()]
    header = ["layer"] + [f"{name} {what}" for name in costs for what in ("map", "M mult-adds")]
    rows = [[f"conv{i}"] + [cell for layer in layers for cell in (f"{layer.output_shape[-1]}x{layer.output_shape[-1]}",
                                                                  f"{layer.macs / 1e6:,.0f}")]
            for i, layers in enumerate(zip(*convs), start=1)]
    rows.append(["whole network"] + [cell for c in costs.values()
                                     for cell in (f"{c.params / 1e6:.1f} M parameters", f"{c.macs / 1e6:,.0f}")])
    return Table(header, rows, caption=f"Conv layer by conv layer, on one {input_size}x{input_size} image")


# --------------------------------------------------------------------------- the whole zoo

TRANSFORMER_FAMILIES = ("vit", "swin", "swin_v2", "maxvit")  # no receptive field computed (attention)
HYBRID_FAMILIES = ("maxvit",)  # convolutions (MBConv blocks) and attention in every stage
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
    "transformers (ViT, Swin)": tuple(f for f in TRANSFORMER_FAMILIES if f not in HYBRID_FAMILIES),
    "conv + attention hybrid (MaxViT)": HYBRID_FAMILIES,
}


def group(name: str) -> str:
    """The ``GROUPS`` entry (a few families of one design line) of a torchvision model name."""
    fam = family(name)
    return next(g for g, families in GROUPS.items() if fam in families)


def design(name: str) -> str:
    """What a torchvision model is built from: ``"CNN"``, ``"transformer"`` or ``"hybrid"``
    (MaxViT: convolutions and attention in every stage)."""
    fam = family(name)
    return "hybrid" if fam in HYBRID_FAMILIES else "transformer" if fam in TRANSFORMER_FAMILIES else "CNN"


def default_weights(name: str) -> torchvision.models.WeightsEnum:
    """The weights ``torchvision.models.get_model(name, weights="DEFAULT")`` would load (their
    metadata ships with torchvision: nothing is downloaded)."""
    return torchvision.models.get_model_weights(name).DEFAULT


def extra_data(name: str) -> bool:
    """Whether ``name``'s default weights were pre-trained on more than ImageNet-1K: the SWAG
    weights (Singh et al. 2022), pre-trained on 3.6 billion weakly labelled Instagram images
    before ImageNet fine-tuning."""
    return "SWAG" in default_weights(name).name


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
