"""The receptive-field explorer's logic, without a browser."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn

from cnnlessons.analysis import LayerSpec
from cnnlessons.widgets.receptive_explorer import ReceptiveExplorer


def test_default_is_three_3x3_convs_seeing_7x7_with_27_c_squared_weights():
    summary = ReceptiveExplorer(channels=32).summary()
    assert (summary.size, summary.jump, summary.layers, summary.nonlinearities) == (7, 1, 3, 3)
    assert summary.parameters == 27 * 32 ** 2
    one_7x7 = nn.Conv2d(32, 32, 7, bias=False)
    assert one_7x7.weight.numel() == 49 * 32 ** 2


def test_editing_layers_updates_size_jump_and_weights():
    explorer = ReceptiveExplorer(channels=8)
    explorer.set_layer(0, stride=2)                      # r: 3, then +2*2, +2*2 = 11, jump 2
    assert (explorer.summary().size, explorer.summary().jump) == (11, 2)
    explorer.set_layer(2, dilation=3)                    # last conv: k' = 7 -> 3 + 4 + 6*2 = 19
    assert explorer.summary().size == 19
    explorer.add_layer(LayerSpec("maxpool", 2, 2))       # + (2-1)*2 = 21, jump 4
    assert (explorer.summary().size, explorer.summary().jump) == (21, 4)
    assert explorer.summary().parameters == 3 * 9 * 8 ** 2  # pooling has no weights
    explorer.set_layer(-1, kind="avgpool", kernel=3)     # + (3-1)*2 = 23
    assert explorer.summary().size == 23 and explorer.layers[-1].dilation == 1
    explorer.remove_layer(-1)
    assert explorer.summary().size == 19


def test_drawn_dependencies_fill_the_field_box():
    explorer = ReceptiveExplorer([LayerSpec("conv", 3), LayerSpec("conv", 3, 2), LayerSpec("conv", 3, 1, 2)], 4)
    # r = 1 + 2 + 2 * 1 + (5 - 1) * 2 = 13
    unit, mask, rf = explorer.centre_dependencies()
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    assert (int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])) == rf.region(*unit)
    assert int(rows[-1]) - int(rows[0]) + 1 == explorer.summary().size
    fig = explorer.draw()
    assert "r = 13" in fig.axes[0].get_title()


def test_large_fields_are_drawn_as_outlines_only():
    explorer = ReceptiveExplorer([LayerSpec("conv", 7, 2, 2)] * 4, channels=2)
    _, mask, rf = explorer.centre_dependencies()
    assert mask is None and rf.size_hw[0] > 72
    assert "too large" in explorer.draw().axes[0].get_title()


def test_bad_input_is_refused_with_clear_messages():
    explorer = ReceptiveExplorer(channels=4)
    with pytest.raises(ValueError, match="unknown layer setting"):
        explorer.set_layer(0, padding=3)
    with pytest.raises(IndexError, match="index must be a layer index"):
        explorer.set_layer(5, kernel=3)
    with pytest.raises(ValueError, match="kernel must be a positive int"):
        explorer.set_layer(0, kernel=0)
    with pytest.raises(ValueError, match="channels must be a positive int"):
        ReceptiveExplorer(channels=0)
    single = ReceptiveExplorer([LayerSpec()], channels=4)
    with pytest.raises(ValueError, match="at least one layer"):
        single.remove_layer()


def test_widget_controls_drive_the_explorer():
    explorer = ReceptiveExplorer(channels=4)
    panel = explorer.widget()
    (layer, add, remove), kind, (kernel, stride, dilation), info, _ = (
        panel.children[0].children, panel.children[1], panel.children[2].children, panel.children[3], panel.children[4])
    assert "receptive field 7x7" in info.value
    kernel.value = 5                                     # layer 1 becomes 5x5: 5 + 2 + 2
    assert explorer.layers[0].kernel == 5 and "receptive field 9x9" in info.value
    add.click()
    assert len(explorer.layers) == 4 and layer.value == 3 and "receptive field 11x11" in info.value
    kind.value = "avgpool"
    assert dilation.disabled and explorer.layers[3].kind == "avgpool"
    remove.click()
    assert len(explorer.layers) == 3 and "receptive field 9x9" in info.value
