"""Models the lessons build, each a small ``nn.Module`` named as in its paper.

Submodules: ``se`` (squeeze-and-excitation), ``inception``, ``cifar_resnet``, ``zfnet``,
``se_resnet`` (SE-ResNet-50, ``with_se``), ``stages`` (a ResNet's architecture table); after SENet:
``mobilenet`` (depthwise-separable, inverted residual, grouped bottleneck), ``convnext`` (the ConvNeXt
block), ``vit`` (a small Vision Transformer), ``anynet`` (networks described by per-stage numbers).
"""
from .cifar_resnet import cifar_resnet
from .inception import Inception, inception_module
from .se import SEBlock
from .se_resnet import se_resnet50, with_se
from .stages import StageInfo, residual_stages, resnet_stages
from .zfnet import alexnet_dense, zfnet
from .anynet import AnyNet, AnyNetConfig, anynet
from .convnext import ConvNeXtBlock
from .mobilenet import DepthwiseSeparable, GroupedBottleneck, InvertedResidual
from .vit import VisionTransformer, vit_tiny

__all__ = ["AnyNet", "AnyNetConfig", "ConvNeXtBlock", "DepthwiseSeparable", "GroupedBottleneck", "InvertedResidual",
           "VisionTransformer", "anynet", "vit_tiny",
           "Inception", "SEBlock", "StageInfo", "alexnet_dense", "cifar_resnet", "inception_module",
           "residual_stages", "resnet_stages", "se_resnet50", "with_se", "zfnet"]
