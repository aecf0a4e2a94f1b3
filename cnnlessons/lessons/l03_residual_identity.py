from ..params import DEVICE, SEED, Bool, Int, IntList
from . import Lesson

LESSON = Lesson(
    id="03_residual_identity",
    title="The residual identity argument and the degradation problem",
    params={
        "seed": SEED,
        "device": DEVICE,
        "depths": IntList(item=Int(min=8, max=110), min_len=2,
                          help="the shallow and deep net depths, each 6n + 2 (the first is the shallow one)"),
        "steps": Int(min=10, max=100_000, help="SGD steps for every net of the degradation experiment"),
        "seeds": IntList(item=Int(min=0), help="seeds of the degradation experiment (one run per net per seed)"),
        "check_deep_residual": Bool(help="also ASSERT the paper's claim (c), deep residual <= shallow residual "
                                         "training error; use with a longer budget, e.g. steps=3000"),
    },
    demo={"seeds": [1]},  # one seed instead of two: half the default time
    summary="deepen(): a deeper net with identical outputs, for residual and plain nets; the degradation "
            "problem reproduced (plain deep trains worse than plain shallow; residual deep far better).",
)
