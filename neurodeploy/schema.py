"""A small strict checker for the mappings users hand us (hardware profiles, manifests).

Why not pydantic, which checks the run configs: building pydantic models costs a few
hundred milliseconds at import, most of ``neurodeploy validate``'s start-up
(``benchmarks/startup.py``), and these files need only a handful of rules. A schema is a
:class:`Node` subclass whose class attributes are :func:`field` / :func:`section` rules;
``Kind.read(raw)`` returns a read-only instance or raises :class:`Invalid` naming the
dotted key. Strict as the profiles were under pydantic's strict mode: an unknown key is an
error (with the missing key it probably misspells), integers are ints (not floats, not
bools), numbers finite.
"""
from __future__ import annotations

import math
from difflib import get_close_matches
from typing import Any, Callable, ClassVar

from neurodeploy.errors import shown

_ABSENT = object()

Check = Callable[[Any, str], Any]


class Invalid(Exception):
    """One violation: ``kind`` is ``extra``, ``missing`` or ``value``; ``where`` the dotted key."""

    def __init__(self, kind: str, where: str, message: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.kind, self.where, self.message, self.value = kind, where, message, value

    def describe(self) -> str:
        """``key.path: what is wrong`` in one line."""
        if self.kind == "extra":
            return f"unknown key '{self.where}'{self.message}"
        if self.kind == "missing":
            return f"missing key '{self.where}'"
        return f"{self.where}: {self.message} (got {shown(self.value)})"


def integer(low: int, high: int) -> Check:
    """An int (not a bool or a float) in ``low..high``."""
    def check(value: Any, where: str) -> int:
        if type(value) is not int:
            raise Invalid("value", where, "should be an integer", value)
        if value < low:
            raise Invalid("value", where, "should be greater than 0" if low == 1 else f"should be at least {low}",
                          value)
        if value > high:
            raise Invalid("value", where, f"should be at most {high}", value)
        return value
    return check


def number(value: Any, where: str) -> float:
    """A finite int or float."""
    if type(value) not in (int, float) or not math.isfinite(value):
        raise Invalid("value", where, "should be a finite number", value)
    return value


def flag(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise Invalid("value", where, "should be true or false", value)
    return value


def text(min_length: int = 0) -> Check:
    def check(value: Any, where: str) -> str:
        if type(value) is not str:
            raise Invalid("value", where, "should be a string", value)
        if len(value) < min_length:
            raise Invalid("value", where, f"should have at least {min_length} character", value)
        return value
    return check


def choice(*choices: str) -> Check:
    def check(value: Any, where: str) -> str:
        if type(value) is not str or value not in choices:
            raise Invalid("value", where, f"should be one of {list(choices)}", value)
        return value
    return check


def mapping(value: Any, where: str) -> dict:
    """Any mapping (its contents are someone else's to check)."""
    if type(value) is not dict:
        raise Invalid("value", where, "should be a mapping", value)
    return value


def optional(check: Check) -> Check:
    """``check``, or null."""
    return lambda value, where: None if value is None else check(value, where)


def list_of(check: Check, min_length: int = 0, max_length: int = 1 << 31) -> Check:
    def checked(value: Any, where: str) -> list:
        if type(value) is not list:
            raise Invalid("value", where, "should be a list", value)
        if not min_length <= len(value) <= max_length:
            raise Invalid("value", where, f"should have {min_length}..{max_length} items", value)
        return [check(item, f"{where}.{index}") for index, item in enumerate(value)]
    return checked


def strings_to_strings(value: Any, where: str) -> dict[str, str]:
    if type(value) is not dict:
        raise Invalid("value", where, "should be a mapping of strings to strings", value)
    return {text()(key, where): text()(item, f"{where}.{key}") for key, item in value.items()}


class Node:
    """A checked, read-only mapping: subclasses list their keys as class attributes
    (:func:`field`, :func:`section`), in the order of the file."""

    _rules: ClassVar[dict[str, "_Rule"]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        rules = {key: value for key, value in vars(cls).items() if isinstance(value, _Rule)}
        for key in rules:
            delattr(cls, key)
        cls._rules = {**cls._rules, **rules}

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return tuple(cls._rules)

    @classmethod
    def read(cls, raw: Any, where: str = "") -> "Node":
        """``raw`` checked as this kind; ``where`` is the dotted prefix of its keys (``a.b.``)."""
        if type(raw) is not dict:
            raise Invalid("value", where.rstrip(".") or "(top level)", "should be a mapping", raw)
        unknown = [key for key in raw if key not in cls._rules]
        if unknown:
            missing = [key for key, rule in cls._rules.items() if rule.required and key not in raw]
            guess = get_close_matches(str(unknown[0]), missing, n=1)
            raise Invalid("extra", f"{where}{unknown[0]}", f" (did you mean '{guess[0]}'?)" if guess else "")
        node = object.__new__(cls)
        for key, rule in cls._rules.items():
            value = raw.get(key, _ABSENT)
            if value is _ABSENT:
                if rule.required:
                    raise Invalid("missing", f"{where}{key}")
                value = rule.default()
            else:
                value = rule.check(value, f"{where}{key}")
            object.__setattr__(node, key, value)
        return node

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{key}={getattr(self, key)!r}' for key in self._rules)})"


class _Rule:
    """A key: how to check its value, and what it is when the file leaves it out
    (``default`` given: optional)."""

    def __init__(self, check: Check, default: Any = _ABSENT) -> None:
        self.check, self._default = check, default
        self.required = default is _ABSENT

    def default(self) -> Any:
        return type(self._default)(self._default) if isinstance(self._default, (list, dict)) else self._default


def field(check: Check, default: Any = _ABSENT) -> Any:
    """A key whose value passes ``check``; optional when ``default`` is given."""
    return _Rule(check, default)


def section(kind: type) -> Any:
    """A key holding a nested mapping checked as ``kind`` (a :class:`Node`)."""
    return _Rule(lambda value, where: kind.read(value, where + "."))
