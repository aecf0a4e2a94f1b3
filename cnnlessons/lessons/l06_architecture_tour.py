from ..params import DEVICE, SEED, Int
from . import Lesson

LESSON = Lesson(
    id="06_architecture_tour",
    title="The architecture tour: ImageNet winners from AlexNet to SENet, measured",
    params={
        "seed": SEED,
        "device": DEVICE,
        "input_size": Int(min=64, max=512, help="image side for counting multiply-adds and receptive fields "
                                                "(published figures are for 224)"),
    },
    demo={"input_size": 224},
    summary="ILSVRC timeline; AlexNet, ZFNet, VGG, GoogLeNet, ResNets and SE-ResNet-50 built without weights: "
            "depth, parameters, multiply-adds and receptive fields next to published figures.",
)
