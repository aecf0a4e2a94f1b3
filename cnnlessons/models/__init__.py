"""Models the lessons build, each a small ``nn.Module`` named as in its paper.

Submodules: ``se`` (squeeze-and-excitation), ``inception``, ``cifar_resnet``, ``zfnet``,
``se_resnet`` (SE-ResNet-50, ``with_se``), ``stages`` (a ResNet's architecture table).
"""
from .cifar_resnet import cifar_resnet
from .inception import Inception, inception_module
from .se import SEBlock
from .se_resnet import se_resnet50, with_se
from .stages import StageInfo, residual_stages, resnet_stages
from .zfnet import alexnet_dense, zfnet

__all__ = ["Inception", "SEBlock", "StageInfo", "alexnet_dense", "cifar_resnet", "inception_module",
           "residual_stages", "resnet_stages", "se_resnet50", "with_se", "zfnet"]
