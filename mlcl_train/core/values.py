"""Checking values against type annotations: the one type system of configs and model arguments.

Annotations used here: bool, int, float, str, Any, list[T], dict, X | None, Literal[...],
and Annotated[T, constraint, ...] with the constraints below.
"""

from __future__ import annotations

import difflib
import reprlib
import types
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from mlcl_train.core.errors import UserError


@dataclass(frozen=True)
class Min:
    """value >= bound (or > bound when strict)."""

    bound: float
    strict: bool = False

    def check(self, key: str, value: Any) -> None:
        ok = value > self.bound if self.strict else value >= self.bound
        if not ok:
            op = ">" if self.strict else ">="
            raise UserError(f"{key}: {quote(value)} is out of range; it must be {op} {_bound(self.bound)}")


@dataclass(frozen=True)
class Below:
    """value < bound."""

    bound: float

    def check(self, key: str, value: Any) -> None:
        if not value < self.bound:
            raise UserError(f"{key}: {quote(value)} is out of range; it must be < {_bound(self.bound)}")


@dataclass(frozen=True)
class NonEmpty:
    """A list with at least one element."""

    def check(self, key: str, value: Any) -> None:
        if len(value) == 0:
            raise UserError(f"{key}: must not be empty")


QUOTE = 80  # characters of a value an error message shows at most
Positive = Annotated[float, Min(0, strict=True)]
PositiveInt = Annotated[int, Min(1)]
NonNegative = Annotated[float, Min(0)]
Probability = Annotated[float, Min(0), Below(1)]  # dropout: [0, 1)


def type_name(tp: Any) -> str:
    """How a type reads in messages and in `mlcl-train models`."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return type_name(args[0])
    if origin is Literal:
        return " | ".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join("null" if a is type(None) else type_name(a) for a in args)
    if origin is list:
        return f"list[{type_name(args[0])}]" if args else "list"
    if tp is Any:
        return "any"
    return getattr(tp, "__name__", str(tp))


def coerce(key: str, value: Any, tp: Any) -> Any:
    """Return value checked against tp (ints widen to float, tuples to lists); raise UserError."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        value = coerce(key, value, args[0])
        for constraint in args[1:]:
            constraint.check(key, value)
        return value
    if tp is Any:
        return value
    if origin is Literal:
        if value in args:
            return value
        valid = ", ".join(map(str, args))
        close = closest(value, [str(a) for a in args]) if isinstance(value, str) else None
        hint = f"did you mean '{close}'? " if close else ""
        raise UserError(f"{key}: unknown value {quote(value)}; {hint}valid: {valid}")
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        choices = [a for a in args if a is not type(None)]
        errors = []
        for choice in choices:
            try:
                return coerce(key, value, choice)
            except UserError as err:
                errors.append(err)
        if len(choices) == 1:
            raise errors[0]
    elif tp is bool and isinstance(value, bool):
        return value
    elif tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    elif tp is float and isinstance(value, str) and _is_float(value):
        return float(value)  # YAML 1.1 reads `1e-3` as a string
    elif tp is str and isinstance(value, str):
        return value
    elif (origin is list or tp is list) and isinstance(value, (list, tuple)):
        if not args:
            return list(value)
        return [coerce(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value)]
    elif (origin is dict or tp is dict) and isinstance(value, dict):
        return value
    raise UserError(f"{key}: expected {type_name(tp)}, got {quote(value)} ({_yaml_type(value)})")


def unknown_key(key: str, valid: list[str], where: str = "") -> UserError:
    """The error for a key that is not in the schema, naming the closest valid one."""
    prefix, _, name = key.rpartition(".")
    if len(key) > QUOTE:
        return UserError(f"unknown key '{key[:QUOTE - 3]}...'{where}; valid: {', '.join(valid) or 'none'}")
    return UserError(f"unknown key '{key}'{where}; {suggest(name, valid, prefix + '.' if prefix else '')}")


def suggest(name: str, valid: list[str], prefix: str = "") -> str:
    """'did you mean X?' for the closest valid name, else the list of valid names."""
    close = closest(name, valid)
    return f"did you mean '{prefix}{close}'?" if close else f"valid: {', '.join(valid) or 'none'}"


def closest(name: str, valid: list[str]) -> str | None:
    """The valid name that `name` was probably meant to be: the same but for case, else a close spelling."""
    same = [v for v in valid if v.lower() == name.lower()]
    if same:
        return same[0]
    lowered = {v.lower(): v for v in valid}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)  # 0.5 took lstm for softmax
    return lowered[close[0]] if close else None


class _ShortRepr(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 300:  # repr() of an int over 4,300 digits raises ValueError
            return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


_SHORT = _ShortRepr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = QUOTE
_SHORT.maxlevel = 3


def plural(count: int, word: str) -> str:
    """A count with its word: 1 seed, 2 seeds, 0 files."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def model_shown(name: str) -> str:
    """A model's name as shown: a class from a user's file by the file's name, `my_models.py:TinyNet`, never the
    absolute path that the run's config.yaml keeps; a registered model's name as it is."""
    path, colon, cls = name.rpartition(":")
    return f"{PurePosixPath(path).name}:{cls}" if colon and path.endswith(".py") else name


def shorten(text: str, most: int, mark: str = "\u2026") -> str:
    """The one text-shortening helper: text in at most `most` characters, ending in `mark` (an ellipsis) when cut."""
    return text if len(text) <= most else text[: most - len(mark)] + mark


def quote(value: Any) -> str:
    """repr(value) for an error message: at most QUOTE characters, in bounded time whatever its size."""
    return shorten(_SHORT.repr(value), QUOTE, "...")


def _bound(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _yaml_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
