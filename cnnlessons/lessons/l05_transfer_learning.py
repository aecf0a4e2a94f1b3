from ..params import DEVICE, SEED, ChoiceOrPath, Choice, Int, IntList
from . import Lesson

LESSON = Lesson(
    id="05_transfer_learning",
    title="Transfer learning: a model zoo that works offline, five strategies, and when pretraining helps",
    params={
        "seed": SEED,
        "device": DEVICE,
        "weights": Choice(choices=("shapes_resnet8", "imagenet_resnet18", "none"),
                          aliases={"shipped": "shapes_resnet8", "imagenet": "imagenet_resnet18"},
                          help="the pretrained network: the shipped model, torchvision's ImageNet ResNet-18 "
                               "(online or cached), or 'none' (a random network: the control)"),
        "dataset": ChoiceOrPath(choices=("offline", "similar", "digits", "cifar10", "flowers102", "oxford_pets"),
                                help="'offline' runs both offline targets (held-out shapes and sklearn digits); "
                                     "a torchvision name or an ImageFolder path needs the data or the internet"),
        "labels_per_class": IntList(item=Int(min=1, max=100), help="training images per class, e.g. [5, 20]"),
        "epochs": Int(min=1, max=500, help="fine-tuning passes over the training subset (scratch gets four times as many)"),
        "seeds": IntList(item=Int(min=0), min_len=2, help="one run per seed: the error bars"),
    },
    demo={"labels_per_class": [5], "seeds": [0, 1], "epochs": 6},
    summary="Model zoos, the shipped pretrained ResNet, linear probe vs fine-tuning vs scratch on similar "
            "and different data, accuracy vs labels per class, per-stage probes, the CS231n table.",
)
