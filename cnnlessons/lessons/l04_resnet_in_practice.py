from ..params import DEVICE, SEED, Int, IntList
from . import Lesson

LESSON = Lesson(
    id="04_resnet_in_practice",
    title="ResNet in practice: gradients, zero-init, the full architecture, the recipe and SENet",
    params={
        "seed": SEED,
        "device": DEVICE,
        "depths": IntList(item=Int(min=8, max=110), help="depths (6n + 2) whose gradient norms at init are measured"),
        "steps": Int(min=10, max=100_000, help="SGD steps of each short training run (zero-init, ablation, SE)"),
        "seeds": IntList(item=Int(min=0), help="seeds of the short training runs (results are averaged)"),
        "batch_size": Int(min=1, max=1024, help="mini-batch size of the recipe (the paper: 128 CIFAR, 256 ImageNet)"),
    },
    demo={"steps": 150, "seeds": [0], "depths": [32]},
    summary="Per-layer gradient norms at init (plain vs residual); zero-init of the last BN gamma; "
            "torchvision ResNet-18/34/50 against the notes; the training recipe and its ablation; SE overhead.",
)
