"""The course's lessons: which notebook, what each parameter accepts, and named presets.

Each parameter is defined once. Its default and its help text live in the notebook's cell
tagged ``parameters`` (``steps = 300  # SGD steps per net``), where papermill reads them too;
this module only says which values are valid (``Spec``) and names larger or smaller settings
(``presets``). ``Lesson.parameters()`` joins the two, and a test checks they name the same
parameters.

Adding a lesson: write ``notebooks/NN_name.ipynb`` and add a ``Lesson`` to ``LESSONS``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..params import DEVICE, SEED, Bool, Choice, ChoiceOrPath, Int, IntList, Spec, validate
from ..paths import notebooks_dir

DEFAULT = "default"


@dataclass(frozen=True)
class Parameter:
    """One papermill parameter: its default and help (from the notebook) and its valid values."""

    name: str
    default: Any
    help: str
    spec: Spec


@dataclass(frozen=True)
class Lesson:
    id: str  # the notebook's file stem, e.g. "01_receptive_fields"
    title: str
    summary: str
    valid: dict[str, Spec]  # what each parameter of the notebook's parameters cell accepts
    # Named settings besides the notebook's defaults: "demo" (fastest, for live teaching) and
    # "full" (the larger run the lesson's text recommends). Values override the defaults.
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Whether a run of the full preset ships in data/records/ (``cnnlessons record``): the
    # lessons whose results need more compute than a student has.
    recorded: bool = False
    # What each preset changes in the lesson as seen in class: which sections, columns, figures
    # or seeds differ from the default run (not how long it takes: the bench measures that).
    # ``cnnlessons list`` and INSTRUCTORS.md show it; every preset has one.
    effects: dict[str, str] = field(default_factory=dict)

    @property
    def notebook(self) -> Path:
        return notebooks_dir() / f"{self.id}.ipynb"

    def parameters(self) -> dict[str, Parameter]:
        """The notebook's parameters, in cell order, with their defaults, help and valid values."""
        return {name: Parameter(name, default, help_text, self.valid[name]) if name in self.valid
                else Parameter(name, default, help_text, Spec())
                for name, (default, help_text) in notebook_parameters(self.notebook).items()}

    def defaults(self) -> dict[str, Any]:
        return {name: p.default for name, p in self.parameters().items()}

    def preset(self, name: str) -> dict[str, Any]:
        """The overrides of preset ``name`` (``"default"`` is the notebook's own values: none)."""
        if name == DEFAULT:
            return {}
        if name not in self.presets:
            raise KeyError(f"lesson {self.id} has no preset {name!r}; presets: {[DEFAULT, *self.presets]}")
        return dict(self.presets[name])


@cache
def _notebook_parameters(path: Path, mtime: float) -> dict[str, tuple[Any, str]]:
    import papermill

    found = papermill.inspect_notebook(str(path))
    return {name: (ast.literal_eval(p["default"]), p["help"]) for name, p in found.items()}


def notebook_parameters(notebook: str | Path) -> dict[str, tuple[Any, str]]:
    """``{name: (default, help)}`` read from a notebook's ``parameters`` cell by papermill."""
    path = Path(notebook)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook {path}")
    return _notebook_parameters(path, path.stat().st_mtime)


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "00_welcome",
        "Welcome: how the course works, an environment check and a map of the lessons",
        "What the course accompanies (CS231n's lecture on CNN architectures), what you will be able to do, what "
        "to know already and how to install it; how a lesson works (hidden checks, predictions, claims); an "
        "environment check, seeding, the training loop, and the map of the lessons.",
        # steps from 80: fewer and the loss need not have halved yet (the lesson's claim)
        {"seed": SEED, "device": DEVICE, "steps": Int(min=80, max=100_000)},
        # demo: the tiny CNN's 80 steps instead of 150 (the rest is kernel start-up and imports);
        # full: the same lesson, nothing in it grows with compute
        effects={
            "demo": "The tiny CNN trains 80 steps instead of 150: a shorter loss curve; every section and claim is "
                    "the same.",
            "full": "The same run as the default: nothing in this lesson grows with compute.",
        },
        presets={"demo": {"steps": 80}, "full": {}},
    ),
    Lesson(
        "01_receptive_fields",
        "Receptive fields: why VGG stacks 3x3 convolutions, and how much a unit really sees",
        "The receptive-field recurrence in five lines, on VGG and real nets (AlexNet 195, VGG-16 212, ResNets); "
        "three 3x3 convs see 7x7 with fewer weights and more memory, and without ReLUs collapse into one 7x7 conv, "
        "while with them they find edges no single conv can; gridding; effective fields grow like sqrt(depth); "
        "an explorer.",
        {"seed": SEED, "device": DEVICE, "channels": Int(min=1, max=2048), "max_depth": Int(min=6, max=64),
         "n_inits": Int(min=1, max=64), "n_inputs": Int(min=4, max=256)},
        effects={
            "demo": "The effective-field study stops at depth 6 (default 12) and averages 2 initialisations x 4 "
                    "inputs (default 4 x 8): fewer depths on the sqrt(depth) plot, noisier gradient maps. The weight "
                    "counts, the recurrence and the real networks' fields are unchanged.",
            "full": "Depths up to 24, averaged over 8 initialisations x 16 inputs: more points for the sqrt(depth) "
                    "fit and smoother gradient maps.",
        },
        presets={"demo": {"max_depth": 6, "n_inits": 2, "n_inputs": 4},
                 "full": {"max_depth": 24, "n_inits": 8, "n_inputs": 16}},
    ),
    Lesson(
        "02_inception_bottleneck",
        "The Inception module and the cost of a 1x1 bottleneck",
        "Why parallel branches, and the module in a dozen lines; multiply-adds of the naive and bottleneck modules "
        "by hand and by a counter (the slide's 358M is 271M); cost vs bottleneck width; what the squeeze can lose; "
        "two 3x3 for a 5x5; measured forward time; the paper's GoogLeNet stage by stage; reducers save compute, "
        "global average pooling saves parameters.",
        {"seed": SEED, "device": DEVICE, "batch_size": Int(min=1, max=256), "repeats": Int(min=1, max=200)},
        # demo: single images and twice the timed passes (a steadier live table, in less time); full: batches of
        # 32, for a GPU, where the time ratio moves with the batch
        effects={
            "demo": "Only the timing section changes: 1 image per timed pass, 30 passes (default 4 images, 15 "
                    "passes). Every count, table and figure is the same.",
            "full": "The timing section times batches of 32 images, 30 passes (for a GPU). Every count is the same.",
        },
        presets={"demo": {"batch_size": 1, "repeats": 30}, "full": {"batch_size": 32, "repeats": 30}},
    ),
    Lesson(
        "03_residual_identity",
        "The residual identity argument and the degradation problem",
        "H(x) = F(x) + x in a dozen lines; the degradation problem with the paper's CIFAR recipe: how fast each net "
        "learns (default) and, from the recorded run, where each ends (plain-32 above plain-8 on every seed, "
        "residual-32 not above residual-8) and whether twice the schedule changes it; deepen(): a deeper net with "
        "identical outputs, exact for residual blocks, broken by BN's batch statistics for plain ones; gradient "
        "norms and layer responses against the paper's reasons.",
        {"seed": SEED, "device": DEVICE, "depths": IntList(item=Int(min=8, max=110), min_len=2),
         "steps": Int(min=10, max=100_000), "train_images": Int(min=100, max=1_000_000),
         "seeds": IntList(item=Int(min=0)), "require_convergence": Bool(), "budget_check": Bool(),
         "workers": Int(min=1, max=64)},
        effects={
            "demo": "One seed (seed 1) instead of two: the live curves and table show one run per net and no seed "
                    "spread. Still early training, as at the default; the recorded run is shown either way.",
            "full": "4,700 steps (the whole schedule) on 40,000 images, 3 seeds, convergence required, and the budget "
                    "check (the first seed's four nets again on a schedule twice as long, 9,400 steps), trained in 4 "
                    "processes: the run recorded in data/records/ (50 minutes on a 2-core CPU).",
        },
        presets={"demo": {"seeds": [1]},  # one seed instead of two: half the default time
                 # the paper's recipe to the end of its schedule (about 15 epochs) on a task the shallow net cannot
                 # memorise: the end-of-schedule claims are asserted, and fail if a run has not converged; the
                 # budget check trains the first seed's nets on twice the schedule
                 "full": {"steps": 4700, "train_images": 40_000, "seeds": [0, 1, 2], "require_convergence": True,
                          "budget_check": True, "workers": 4}},
        recorded=True,
    ),
    Lesson(
        "04_resnet_in_practice",
        "ResNet in practice: the architecture, the training recipe, and what came after",
        "torchvision's ResNet-18/34 against the slide; the bottleneck and the SE block in a dozen lines each; the "
        "recipe side by side (paper ImageNet and CIFAR, the slide, the lesson); an ablation fair to each ingredient "
        "(each variant's learning rate chosen on validation, compared seed by seed on a test split); why no BN stays "
        "at chance at He init; zero-init; SE at a fair width, and multiply-adds against time; cosine, warm-up and "
        "label smoothing from the later recipe.",
        {"seed": SEED, "device": DEVICE, "steps": Int(min=10, max=100_000), "seeds": IntList(item=Int(min=0)),
         "batch_size": Int(min=1, max=1024), "search_lr": Bool(), "workers": Int(min=1, max=64)},
        effects={
            "demo": "The training runs take 100 steps (default 150) on one seed: no seed spread in the live table and "
                    "figure. The recorded run's tables are the same.",
            "full": "500 steps on 3 seeds; each variant searches its learning rate on a grid of decades (0.001 to "
                    "1.0) on validation, and zero-init, cosine, cosine + warm-up and label smoothing are trained too, "
                    "in 4 processes: the run recorded in data/records/ (about 11 minutes on a 2-core CPU).",
        },
        presets={"demo": {"steps": 100, "seeds": [0]},
                 # the learning-rate search on validation and every variant on 3 seeds
                 "full": {"steps": 500, "seeds": [0, 1, 2], "search_lr": True, "workers": 4}},
        recorded=True,
    ),
    Lesson(
        "05_transfer_learning",
        "Transfer learning: when a pretrained network pays, and how sure we can be",
        "The course's pretrained source beside ImageNet's ResNet-18; linear probes fitted to their optimum against "
        "random features; do better source models transfer better; which stage transfers; fine-tuning from the "
        "probe with BatchNorm's statistics frozen; six strategies on similar and different data (or your own "
        "folder), every choice made on validation; CS231n's rule judged by paired comparisons over seeds: holds, "
        "fails or undecided.",
        {"seed": SEED, "device": DEVICE,
         "weights": Choice(choices=("glyphs_resnet14", "imagenet_resnet18", "none"),
                           aliases={"shipped": "glyphs_resnet14", "imagenet": "imagenet_resnet18"}),
         "dataset": ChoiceOrPath(choices=("offline", "similar", "digits", "cifar10", "flowers102", "oxford_pets")),
         "labels_per_class": IntList(item=Int(min=1, max=100)), "all_labels": Bool(),
         "trained_at": IntList(item=Int(min=1, max=100)), "lr_grid": Choice(choices=("one", "narrow", "wide")),
         "epochs": Int(min=1, max=500), "seeds": IntList(item=Int(min=0), min_len=2), "checks": Bool()},
        effects={
            "demo": "Two seeds instead of three and 5 labels a class only (no 20-label column for the probes): "
                    "every section and figure is there, the 'quite a lot of data' column too, with wider spreads "
                    "and so more 'undecided' verdicts. The recorded run is shown as always.",
            "full": "Five seeds; scratch and fine-tuning at 5 and 20 labels a class and with all the images; each "
                    "learning rate chosen on validation from three (half-decades around the default's); 8 passes; "
                    "fine-tuning with BatchNorm in train mode, and scratch and fine-tuning trained twice as long, at "
                    "5 labels a class (the run recorded in data/records/, about 20 minutes on one CPU core).",
        },
        presets={"demo": {"labels_per_class": [5], "seeds": [0, 1]},  # the 'lots of data' column stays
                 # five seeds, the rule judged at 5 and 20 labels a class, the BatchNorm and budget checks; grids
                 # of three learning rates, not five, and the budget check at twice the steps only, so that it
                 # records in about 20 minutes on one CPU core
                 "full": {"trained_at": [5, 20], "lr_grid": "narrow", "epochs": 8, "seeds": [0, 1, 2, 3, 4],
                          "checks": True}},
        recorded=True,
    ),
    Lesson(
        "06_architecture_tour",
        "The architecture tour: ImageNet winners from AlexNet to SENet, measured",
        "ILSVRC timeline (every winner from 2012 on an ensemble); AlexNet, ZFNet, VGG, GoogLeNet, ResNets and "
        "SE-ResNet-50 built without weights: depth, parameters, multiply-adds and receptive fields next to "
        "published figures, and each drawn; ZFNet against its paper's own numbers; accuracy against compute "
        "(depth alone misleads); the SE block in code; then where the classics stand among torchvision's 80 "
        "classifiers (the Pareto front, extra-data weights marked).",
        {"seed": SEED, "device": DEVICE, "input_size": Int(min=64, max=512), "zoo": Choice(choices=("live", "shipped"))},
        # demo: the zoo table shipped with the course (make zoo-table; the tests check it against a
        # live measurement) instead of measuring all 80 models, most of the default's time
        effects={
            "demo": "The zoo table is the one shipped with the course (make zoo-table) instead of measuring all 80 "
                    "torchvision models now: the same columns and plot, numbers from when it was recorded.",
            "full": "The course's networks counted on 320x320 images instead of 224x224: multiply-adds grow with the "
                    "image's area, so they no longer match the published figures (made at 224).",
        },
        presets={"demo": {"zoo": "shipped"}, "full": {"input_size": 320}},
    ),
)


def all_lessons() -> tuple[Lesson, ...]:
    """Every lesson, in course order."""
    return LESSONS


def get_lesson(name: str) -> Lesson:
    """Look a lesson up by id (``01_receptive_fields``), number (``01``) or name (``receptive_fields``)."""
    for lesson in LESSONS:
        number, _, rest = lesson.id.partition("_")
        if name in (lesson.id, number, rest, f"{lesson.id}.ipynb"):
            return lesson
    raise KeyError(f"no lesson {name!r}; lessons are {[lesson.id for lesson in LESSONS]}")


def check_parameters(lesson: str, **values: Any) -> SimpleNamespace:
    """Validate a lesson's parameters (the cell right after its parameters cell calls this).

    Returns them converted (``device`` as a ``torch.device``); raises ``ParameterError``
    naming the bad parameter and its valid values, before any expensive work.
    """
    return validate(get_lesson(lesson).valid, values)
