"""Validating a lesson's papermill parameters before any expensive work.

A ``Spec`` says which values a parameter accepts and converts a valid one (``"3"`` -> ``3``,
``"cpu"`` -> ``torch.device("cpu")``); ``validate`` checks a whole set of values and fails at once
with a message naming the parameter and its valid values. The course declares each lesson's
specs in ``cnnlessons.course.lessons``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Sequence


from .device import DEVICE_CHOICES, get_device


class ParameterError(ValueError):
    """A lesson parameter has a bad name or value."""


@dataclass(frozen=True)
class Spec:
    """What one parameter accepts. Subclasses implement ``convert``."""

    help: str = ""

    def describe(self) -> str:  # the valid values, in words
        raise NotImplementedError

    def convert(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def fail(self, name: str, value: Any) -> ParameterError:
        return ParameterError(f"parameter {name!r}: got {value!r}; valid values: {self.describe()}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Int(Spec):
    min: int | None = None
    max: int | None = None

    def describe(self) -> str:
        lo = "-inf" if self.min is None else self.min
        hi = "inf" if self.max is None else self.max
        return f"an integer in [{lo}, {hi}]"

    def convert(self, name: str, value: Any) -> int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if not _is_int(value):
            raise self.fail(name, value)
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise self.fail(name, value)
        return value


@dataclass(frozen=True)
class Float(Spec):
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False

    def describe(self) -> str:
        lo = "-inf" if self.min is None else self.min
        hi = "inf" if self.max is None else self.max
        return f"a number in {'(' if self.min_exclusive else '['}{lo}, {hi}]"

    def convert(self, name: str, value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self.fail(name, value) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise self.fail(name, value)
        value = float(value)
        if self.min is not None and (value < self.min or (self.min_exclusive and value == self.min)):
            raise self.fail(name, value)
        if self.max is not None and value > self.max:
            raise self.fail(name, value)
        return value


@dataclass(frozen=True)
class Choice(Spec):
    """One of ``choices``; ``aliases`` maps short names to them (``{"imagenet": "imagenet_resnet18"}``)."""

    choices: tuple[Any, ...] = ()
    aliases: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        names = [repr(c) for c in self.choices] + [f"{a!r} (= {c!r})" for a, c in self.aliases.items()]
        return "one of " + ", ".join(names)

    def convert(self, name: str, value: Any) -> Any:
        if isinstance(value, str) and value in self.aliases:
            return self.aliases[value]
        if value not in self.choices:
            raise self.fail(name, value)
        return value


@dataclass(frozen=True)
class Bool(Spec):
    def describe(self) -> str:
        return "True or False (with papermill use -p NAME True, or -y 'NAME: false')"

    def convert(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(name, value)
        return value


@dataclass(frozen=True)
class Device(Spec):
    """A device name; resolved (and checked to exist) with ``get_device``."""

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in DEVICE_CHOICES) + " (or 'cuda:N')"

    def convert(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise self.fail(name, value)
        try:
            return get_device(value)
        except ValueError:
            raise self.fail(name, value) from None


@dataclass(frozen=True)
class IntList(Spec):
    """A non-empty list of integers, each checked by ``item``; a single int is a list of one."""

    item: Int = field(default_factory=Int)
    min_len: int = 1

    def describe(self) -> str:
        return f"a list of at least {self.min_len} item(s), each {self.item.describe()} (papermill: -y 'NAME: [1, 2]')"

    def convert(self, name: str, value: Any) -> list[int]:
        if _is_int(value):
            value = [value]
        if isinstance(value, str):
            try:
                value = [int(v) for v in value.replace("[", "").replace("]", "").split(",") if v.strip()]
            except ValueError:
                raise self.fail(name, value) from None
        if not isinstance(value, (list, tuple)) or len(value) < self.min_len:
            raise self.fail(name, value)
        try:
            return [self.item.convert(name, v) for v in value]
        except ParameterError:
            raise self.fail(name, value) from None


@dataclass(frozen=True)
class ChoiceOrPath(Spec):
    """One of ``choices``, or a path to an existing folder (e.g. an ImageFolder dataset)."""

    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices) + ", or the path of an existing folder"

    def convert(self, name: str, value: Any) -> Any:
        if value in self.choices:
            return value
        if isinstance(value, str) and os.path.isdir(value):
            return value
        raise self.fail(name, value)


SEED = Int(min=0)
DEVICE = Device()


def validate(specs: dict[str, Spec], values: dict[str, Any]) -> SimpleNamespace:
    """Check ``values`` against ``specs``; return the converted values as a namespace.

    Unknown and missing names are errors too (papermill only warns about unknown ones).
    """
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown}; this lesson takes {sorted(specs)}")
    missing = sorted(set(specs) - set(values))
    if missing:
        raise ParameterError(f"missing parameter(s) {missing}")
    return SimpleNamespace(**{name: specs[name].convert(name, values[name]) for name in specs})


def check_names(specs: Sequence[str] | dict[str, Spec], names: Sequence[str]) -> None:
    """Raise if any of ``names`` is not a parameter in ``specs``."""
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown}; valid names: {sorted(specs)}")
