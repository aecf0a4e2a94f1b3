from ..params import DEVICE, SEED
from . import Lesson

LESSON = Lesson(
    id="00_welcome",
    title="Welcome: how the course works, an environment check and a map of the lessons",
    params={"seed": SEED, "device": DEVICE},
    demo={},
    summary="What the course is, how to run it (JupyterLab, papermill, GPU), environment check.",
)
