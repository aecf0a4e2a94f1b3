"""Models the lessons build, each a small ``nn.Module`` named as in its paper.

Submodules: ``se`` (squeeze-and-excitation), ``inception``, ``cifar_resnet``, ``zfnet``,
``se_resnet``. The common builders are re-exported here as they land.
"""
from .se import SEBlock

__all__ = ["SEBlock"]
from .cifar_resnet import cifar_resnet  # noqa: E402
from .inception import Inception, inception_module  # noqa: E402
from .se_resnet import se_resnet50  # noqa: E402
from .zfnet import alexnet_dense, zfnet  # noqa: E402
