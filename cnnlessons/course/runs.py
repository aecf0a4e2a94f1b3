"""Lesson runs: turning command-line parameters and presets into what papermill injects.

``-p NAME VALUE`` is parsed like papermill's ``-p`` (``True``/``False``/``None``, then an int,
then a float, else a string) and then checked against the lesson's specs *before* a kernel
starts: an unknown name or a bad value is an error naming the parameter and its valid values.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..params import ChoiceOrPath, Device, ParameterError, Spec, check_names, validate
from ..paths import build_dir, checkout
from .lessons import DEFAULT, Lesson, get_lesson

ROOT = checkout() or Path.cwd()


class UsageError(Exception):
    """A bad command line: reported as ``cnnlessons: error: ...`` with exit status 2."""


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def find_lesson(name: str) -> Lesson:
    """``lessons.get_lesson`` (the one look-up), with an unknown name as a ``UsageError`` (exit 2)."""
    try:
        return get_lesson(name)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


def lesson_defaults(lesson: Lesson) -> dict[str, Any]:
    """The defaults in the lesson notebook's ``parameters`` cell."""
    if not lesson.notebook.is_file():
        raise UsageError(f"lesson {lesson.id}: its notebook {shown(lesson.notebook)} does not exist")
    try:
        return lesson.defaults()
    except (ValueError, SyntaxError) as exc:  # not only literal assignments
        raise UsageError(f"lesson {lesson.id}: cannot read the defaults of {shown(lesson.notebook)}: {exc}") from None


def preset_values(lesson: Lesson, preset: str) -> dict[str, Any]:
    try:
        return lesson.preset(preset)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


def papermill_value(text: str) -> Any:
    """Parse one ``-p`` value exactly like papermill's command line does: ``True``, ``False``,
    ``None``, then an int, then a float, else the string itself (so ``false`` stays a string)."""
    if text == "True":
        return True
    if text == "False":
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _for_papermill(spec: Spec, value: Any, converted: Any) -> Any:
    """What to inject: the checked value when it is plain data (e.g. a list parsed from
    ``"3,3"``), the value as given otherwise (a device name stays a string); a folder given
    for a ``ChoiceOrPath`` becomes absolute, because the kernel runs in ``notebooks/``."""
    if isinstance(spec, ChoiceOrPath) and converted not in spec.choices:
        return os.path.abspath(converted)
    if converted is None or isinstance(converted, (bool, int, float, str, list)):
        return converted
    return value


def lesson_parameters(lesson: Lesson, overrides: dict[str, Any], *, preset: str = DEFAULT) -> dict[str, Any]:
    """Check ``overrides`` (on top of the named ``preset``) against the lesson's specs,
    with the notebook's defaults for the rest; return the parameters to inject with papermill.

    Raises ``ParameterError`` (bad name or value) or ``UsageError`` (no such notebook).
    """
    from ..device import DeviceUnavailableError

    chosen = {**preset_values(lesson, preset), **overrides}
    check_names(lesson.valid, list(chosen))
    merged = {**lesson_defaults(lesson), **chosen}
    try:
        checked = vars(validate(lesson.valid, merged))
    except DeviceUnavailableError as exc:  # e.g. -p device cuda on a machine without CUDA
        name = next((n for n, spec in lesson.valid.items() if isinstance(spec, Device)), "device")
        raise ParameterError(f"parameter {name!r}: {exc}") from None
    return {name: _for_papermill(lesson.valid[name], value, checked[name]) for name, value in chosen.items()}


def cli_value(value: Any) -> str:
    """How to write ``value`` after ``-p NAME`` (a list without spaces: ``[0,1]``)."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(cli_value(v) for v in value) + "]"
    text = str(value)
    return repr(text) if isinstance(value, str) and (not text or " " in text) else text


def parse_pairs(pairs: list[list[str]] | None) -> dict[str, Any]:
    return {name: papermill_value(value) for name, value in (pairs or [])}


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(value)).strip("-") or "x"


def default_output(lesson: Lesson, overrides: dict[str, Any], *, preset: str = DEFAULT) -> Path:
    """``build/runs/<lesson>[-preset][__name=value...].ipynb``."""
    suffix = "" if preset == DEFAULT else f"-{preset}"
    suffix += "".join(f"__{name}={_slug(value)}" for name, value in overrides.items())
    return build_dir() / "runs" / f"{lesson.id}{suffix}.ipynb"




def split_values(text: str) -> list[str]:
    """Split ``"1,2,3"`` on commas outside brackets, so ``"[3,3],[5,5]"`` is two lists."""
    values, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += ch
    values.append(current.strip())
    if any(v == "" for v in values):
        raise UsageError(f"empty value in {text!r}; write -p NAME V1,V2,...")
    return values


def failed_path(output: Path) -> Path:
    """Where a failed run's notebook (with its error) is kept: beside the requested output."""
    return output.with_name(f"{output.stem}.failed.ipynb")
