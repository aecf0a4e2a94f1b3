from ..params import DEVICE, SEED, Int
from . import Lesson

LESSON = Lesson(
    id="01_receptive_fields",
    title="Receptive fields: why VGG stacks 3x3 convolutions, and how much a unit really sees",
    params={
        "seed": SEED,
        "device": DEVICE,
        "channels": Int(min=1, max=2048, help="C for the 3x3-stack vs 7x7 weight count (27C^2 vs 49C^2)"),
        "max_depth": Int(min=6, max=64, help="deepest conv stack in the effective-receptive-field study"),
        "n_inits": Int(min=1, max=64, help="random initialisations averaged per effective receptive field"),
        "n_inputs": Int(min=4, max=256, help="random inputs averaged per initialisation (>= 4 keeps the fits stable)"),
    },
    demo={"max_depth": 6, "n_inits": 2, "n_inputs": 4},
    summary="Three 3x3 convs see 7x7 with fewer weights; the Distill recurrence on real nets "
            "(AlexNet 195, VGG-16 212, ResNets); effective fields grow like sqrt(depth); an explorer.",
)
