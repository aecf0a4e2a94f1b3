"""Analysis of networks: receptive fields (theoretical and effective) and cost.

- ``fields``: the recurrence and its results (``ReceptiveField``);
- ``graph_rules``: what each ``torch.fx`` node does to a field;
- ``receptive``: ``receptive_field(model)`` and ``feature_extractor(model)``;
- ``stacks``: plain conv/pool stacks described as data (``LayerSpec``);
- ``erf``: effective receptive fields and impulse maps, measured;
- ``drawing``: fields drawn over an image;
- ``cost``: parameters, multiply-adds, depth and forward time;
- ``efficient``: depthwise-separable and grouped convolutions counted, memory traffic, equal-cost timing;
- ``module_graph`` and ``diagram``: architecture diagrams drawn from a module's definition.
"""
from .cost import Cost, LayerCost, compare_forward, count, count_parameters, layer_macs, time_forward
from .diagram import Diagram, diagram, side_by_side
from .efficient import conv_weights, separable_ratio, separable_vs_dense, separable_weights
from .drawing import plot_fields_on_image
from .erf import centre_unit, dependency_map, dependency_maps, effective_receptive_field, erf_std, support_box
from .fields import LAST_FEATURE_MAP, LayerStep, ReceptiveField, ReceptiveFieldError
from .receptive import feature_extractor, receptive_field
from .stacks import LayerSpec, build_stack, conv_stack

__all__ = [
    "LAST_FEATURE_MAP", "Cost", "Diagram", "LayerCost", "LayerSpec", "LayerStep", "ReceptiveField",
    "ReceptiveFieldError",
    "build_stack", "centre_unit", "compare_forward", "conv_stack", "conv_weights", "count", "count_parameters",
    "dependency_map", "dependency_maps", "diagram", "effective_receptive_field", "erf_std", "feature_extractor", "layer_macs",
    "plot_fields_on_image", "receptive_field", "separable_ratio", "separable_vs_dense", "separable_weights",
    "side_by_side", "support_box", "time_forward",
]
