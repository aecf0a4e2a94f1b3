"""The welcome lesson's small widget: how far n stacked k x k convolutions see.

For stride-1 layers the receptive field grows by ``k - 1`` per layer: ``r_n = n (k - 1) + 1``
(the general recurrence, with strides and dilation, is in ``cnnlessons.analysis.receptive``).
"""
from __future__ import annotations


def stacked_field(layers: int, kernel: int = 3) -> int:
    """Receptive field of ``layers`` stacked stride-1 ``kernel`` x ``kernel`` convolutions."""
    if layers < 0 or kernel < 1:
        raise ValueError(f"need layers >= 0 and kernel >= 1; got layers={layers}, kernel={kernel}")
    return layers * (kernel - 1) + 1


def describe_stack(layers: int, kernel: int = 3) -> str:
    r = stacked_field(layers, kernel)
    return f"{layers} stacked {kernel}x{kernel} conv(s) see a {r}x{r} window of the input"


def stack_slider(kernel: int = 3, max_layers: int = 10):
    """An ``IntSlider`` for the number of layers, linked to a label that describes the field
    (with a static copy, ``js/stack_slider.js``, for pages without a kernel)."""
    import ipywidgets as w

    from .static import static_box

    slider = w.IntSlider(value=3, min=1, max=max_layers, description="layers")
    label = w.Label(describe_stack(slider.value, kernel))
    slider.observe(lambda change: setattr(label, "value", describe_stack(change["new"], kernel)), names="value")
    return static_box([slider, label], "stack_slider",
                      lambda: {"kernel": kernel, "max_layers": max_layers, "value": slider.value})
