"""The receptive-field recurrence and the objects that hold its results.

Theoretical receptive field (Araujo, Norris, Sim, "Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019). Going forward through layers ``l = 1..L``
with kernel ``k_l``, stride ``s_l``, dilation ``d_l`` and padding ``p_l``, per axis::

    k'_l = d_l (k_l - 1) + 1              effective kernel of a dilated layer
    r_l  = r_{l-1} + (k'_l - 1) j_{l-1}   field size        (r_0 = 1)
    j_l  = j_{l-1} s_l                    jump ("stride"): input pixels between
                                          neighbouring units of layer l (j_0 = 1)
    P_l  = P_{l-1} + p_l j_{l-1}          effective padding (P_0 = 0)

Unit ``u`` (0-based) of layer ``L`` sees input pixels ``u j_L - P_L`` to
``u j_L - P_L + r_L - 1`` (coordinates below 0 or past the image are padding). Padding
moves the field; it never changes its size. Where paths merge (a residual ``add``, an
Inception ``cat``) the field is the union of the inputs' fields (``merge``): with
``a_i = P_i`` units left and ``b_i = r_i - 1 - P_i`` right of the centre,
``P = max a_i`` and ``r = P + max b_i + 1``; the jumps must agree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from ..io import Table, markdown_table

Pair = tuple[int, int]
IntOrPair = Union[int, Pair]

LAST_FEATURE_MAP = "last_feature_map"


class ReceptiveFieldError(ValueError):
    """The receptive field cannot be computed (a layer mixes all positions, an unknown layer)."""


def collapse(pair: Pair) -> IntOrPair:
    """``(a, a)`` -> ``a``; other pairs unchanged."""
    return pair[0] if pair[0] == pair[1] else pair


def as_pair(value: Any) -> Pair:
    """An int or a 1- or 2-sequence as an ``(h, w)`` pair."""
    if isinstance(value, int):
        return value, value
    value = tuple(value)
    return (value[0], value[0]) if len(value) == 1 else (int(value[0]), int(value[1]))


def check_input_size(input_size: Any) -> tuple[int, int, int]:
    """``input_size`` must be ``(channels, height, width)`` of positive ints."""
    if (not isinstance(input_size, (tuple, list)) or len(input_size) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in input_size)):
        rank = f" (it has {len(input_size)} entries)" if isinstance(input_size, (tuple, list)) else ""
        raise ValueError(f"input_size must be (channels, height, width) of positive ints, without the batch "
                         f"dimension; got {input_size!r}{rank}")
    return tuple(input_size)  # type: ignore[return-value]


@dataclass(frozen=True)
class LayerStep:
    """One row of the recurrence: a layer and the field after it, per axis as ``(h, w)``."""

    name: str
    kind: str  # "input", "conv", "maxpool", "avgpool", "pad", "merge"
    kernel: Pair
    stride: Pair
    dilation: Pair
    padding: Pair
    size: Pair
    jump: Pair
    effective_padding: Pair
    map_size: Pair

    def row(self) -> dict[str, Any]:
        """The step as a flat dict, square pairs collapsed to one number."""
        return {"layer": self.name, "kind": self.kind, "kernel": collapse(self.kernel),
                "stride": collapse(self.stride), "dilation": collapse(self.dilation),
                "padding": collapse(self.padding), "size r": collapse(self.size),
                "jump j": collapse(self.jump), "eff. padding P": collapse(self.effective_padding),
                "map": f"{self.map_size[0]}x{self.map_size[1]}"}


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of the units of one feature map.

    ``size``, ``stride`` (the jump) and ``padding`` (effective padding) are ints when both
    axes agree, ``(h, w)`` pairs otherwise; the ``*_hw`` fields are always pairs.
    ``layers`` lists the recurrence step by step (convolutions, pools and merges).
    ``ignored_gates`` names the layers where a global-context gate (squeeze-and-excitation)
    multiplied the map and was ignored, by the usual convention; empty if there were none.
    """

    size_hw: Pair
    stride_hw: Pair
    padding_hw: Pair
    input_size: Pair
    map_size: Pair
    layers: tuple[LayerStep, ...] = field(default=(), repr=False, compare=False)
    ignored_gates: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def size(self) -> IntOrPair:
        return collapse(self.size_hw)

    @property
    def stride(self) -> IntOrPair:
        return collapse(self.stride_hw)

    @property
    def jump(self) -> IntOrPair:
        return self.stride

    @property
    def padding(self) -> IntOrPair:
        return collapse(self.padding_hw)

    @property
    def global_context_ignored(self) -> bool:
        """True when SE-style gates (which strictly see the whole image) were ignored."""
        return bool(self.ignored_gates)

    def region(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Input pixels ``(top, left, bottom, right)`` (inclusive) seen by unit ``(row, col)``;
        they may reach past the image into the padding."""
        top = row * self.stride_hw[0] - self.padding_hw[0]
        left = col * self.stride_hw[1] - self.padding_hw[1]
        return top, left, top + self.size_hw[0] - 1, left + self.size_hw[1] - 1

    def centre(self, row: int, col: int) -> tuple[float, float]:
        """Centre of unit ``(row, col)``'s field in input coordinates: ``u j - P + (r - 1)/2``."""
        top, left, bottom, right = self.region(row, col)
        return (top + bottom) / 2, (left + right) / 2

    def ancestors(self, earlier: "ReceptiveField", row: int, col: int) -> tuple[int, int, int, int]:
        """The bounding box ``(top, left, bottom, right)`` (inclusive, clipped to ``earlier``'s map)
        of the units of an earlier feature map of the same stack that unit ``(row, col)`` of this
        map depends on: the units whose own field ``[v j_e - P_e, v j_e - P_e + r_e - 1]`` lies
        inside this unit's field ``[t, b]``,
        ``ceil((t + P_e) / j_e) <= v <= floor((b + P_e - r_e + 1) / j_e)``.

        Its first and last units are ancestors (the field's edges come from them), but not
        necessarily every unit between them: a dilated layer, or a kernel narrower than its
        stride, skips units. In lesson 01's small stack (dilation 3 after a jump of 4), pool3's
        units 2 to 8 fit inside the centre unit's field, and only 2, 5 and 8 feed it. For the
        exact set, trace impulses (``cnnlessons.analysis.erf.dependency_map``) through the stack
        cut at the earlier layer.
        """
        if earlier.input_size != self.input_size:
            raise ValueError(f"the earlier field was computed for a {earlier.input_size} input, this one for "
                             f"{self.input_size}")
        box = self.region(row, col)
        lo, hi = [], []
        for a in range(2):
            first, last = box[a], box[a + 2]
            j, p, r = earlier.stride_hw[a], earlier.padding_hw[a], earlier.size_hw[a]
            lo_a = max(0, -(-(first + p) // j))
            hi_a = min(earlier.map_size[a] - 1, (last + p - r + 1) // j)
            if lo_a > hi_a:
                raise ValueError("no unit of the earlier map lies inside this unit's field: is it really earlier?")
            lo.append(lo_a)
            hi.append(hi_a)
        return lo[0], lo[1], hi[0], hi[1]

    def central_ancestor(self, earlier: "ReceptiveField", row: int, col: int) -> tuple[int, int]:
        """Of ``ancestors(earlier, row, col)``, the unit whose field centre is nearest this unit's."""
        top, left, bottom, right = self.ancestors(earlier, row, col)
        centre = self.centre(row, col)
        unit = []
        for a, (lo, hi) in enumerate(((top, bottom), (left, right))):
            j, p, r = earlier.stride_hw[a], earlier.padding_hw[a], earlier.size_hw[a]
            v = round((centre[a] + p - (r - 1) / 2) / j)
            unit.append(min(max(v, lo), hi))
        return unit[0], unit[1]

    def table(self) -> list[dict[str, Any]]:
        return [step.row() for step in self.layers]

    def markdown(self) -> str:
        rows = self.table()
        if not rows:
            return ""
        head = list(rows[0])
        return markdown_table(head, [[r[h] for h in head] for r in rows])

    def steps_table(self, caption: str = "") -> Table:
        """The recurrence step by step as a ``cnnlessons.io.Table`` (HTML in a notebook)."""
        rows = self.table()
        head = list(rows[0]) if rows else ["layer"]
        return Table(head, [[r[h] for h in head] for r in rows], caption=caption)

    def __str__(self) -> str:
        gates = f"; {len(self.ignored_gates)} global-context gates ignored" if self.ignored_gates else ""
        return (f"receptive field {self.size}, jump {self.stride}, effective padding {self.padding} "
                f"({self.map_size[0]}x{self.map_size[1]} map on a {self.input_size[0]}x{self.input_size[1]} "
                f"input{gates})")


@dataclass(frozen=True)
class Field:
    """A tensor with a spatial map: every unit sees ``size`` pixels, ``jump`` apart.

    ``axes`` are the (negative) positions of the map's rows and columns in the tensor:
    ``(-2, -1)`` for ``(N, C, H, W)``, ``(-3, -2)`` once permuted to channels-last."""

    size: Pair
    jump: Pair
    padding: Pair
    map_size: Pair
    axes: Pair = (-2, -1)


def step(f: Field, kernel: Pair, stride: Pair, dilation: Pair, padding: Pair, map_size: Pair) -> Field:
    """One layer of the recurrence, per axis (see the module docstring)."""
    size, jump, pad = [], [], []
    for a in range(2):
        k_eff = dilation[a] * (kernel[a] - 1) + 1
        size.append(f.size[a] + (k_eff - 1) * f.jump[a])
        pad.append(f.padding[a] + padding[a] * f.jump[a])
        jump.append(f.jump[a] * stride[a])
    return Field(tuple(size), tuple(jump), tuple(pad), map_size, f.axes)  # type: ignore[arg-type]


def merge(fields: list[Field], name: str) -> Field:
    """Union of the inputs' fields (all inputs must step over the input with the same jump)."""
    jumps = {f.jump for f in fields}
    if len(jumps) > 1:
        raise ReceptiveFieldError(f"layer {name!r} merges feature maps with different jumps {sorted(jumps)}; "
                                  "their units do not line up, so no single receptive field exists")
    if len({f.axes for f in fields}) > 1:
        raise ReceptiveFieldError(f"layer {name!r} merges maps whose spatial axes sit in different places")
    pad = tuple(max(f.padding[a] for f in fields) for a in range(2))
    right = tuple(max(f.size[a] - 1 - f.padding[a] for f in fields) for a in range(2))
    size = tuple(right[a] + pad[a] + 1 for a in range(2))
    return Field(size, fields[0].jump, pad, fields[0].map_size, fields[0].axes)  # type: ignore[arg-type]
