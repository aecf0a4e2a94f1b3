from ..params import DEVICE, SEED, Int
from . import Lesson

LESSON = Lesson(
    id="02_inception_bottleneck",
    title="The Inception module and the cost of a 1x1 bottleneck",
    params={
        "seed": SEED,
        "device": DEVICE,
        "batch_size": Int(min=1, max=256, help="images per timed forward pass of each module"),
        "repeats": Int(min=1, max=200, help="timed forward passes per module (the median is reported)"),
    },
    demo={"batch_size": 2, "repeats": 3},
    summary="Multiply-adds of the naive and bottleneck Inception modules by hand and by a counter; "
            "the slide's 358M checked; cost vs bottleneck width; measured forward time; GoogLeNet vs "
            "AlexNet and VGG-16.",
)
