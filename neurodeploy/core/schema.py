"""The project's one strict checker for the mappings users hand us: the experiment config,
hardware profiles and manifests.

Why not pydantic: building pydantic models costs a few hundred milliseconds at import,
most of a short command's start-up (``benchmarks/startup.py``), and these files need only
a handful of rules. A schema is a :class:`Node` subclass whose class attributes are
:func:`field` / :func:`section` rules, in the order of the file, each with its default
(none: the key is required) and its meaning (``neurodeploy init`` writes both).
``Kind.read(raw)`` (a file's mapping) and ``Kind(**values)`` (Python) return a read-only
instance or raise :class:`Invalid` naming the dotted key; rules across keys go in
:meth:`Node._whole`. Strict: an unknown key is an error (with the key it probably
misspells), integers are ints (not floats, not bools), numbers finite.
"""
from __future__ import annotations

import math
from difflib import get_close_matches
from typing import Any, Callable, ClassVar, Optional, TypeVar

from neurodeploy.core.errors import shown

_ABSENT = object()

Check = Callable[[Any, str], Any]
N = TypeVar("N", bound="Node")


class Invalid(ValueError):
    """One violation: ``kind`` is ``extra``, ``missing`` or ``value``; ``where`` the dotted key."""

    def __init__(self, kind: str, where: str, message: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.kind, self.where, self.message, self.value = kind, where, message, value

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """``key.path: what is wrong`` in one line."""
        if self.kind == "extra":
            return f"unknown key '{self.where}'{self.message}"
        if self.kind == "missing":
            return f"missing key '{self.where}'"
        return f"{self.where}: {self.message} (got {shown(self.value)})"


def integer(low: int, high: Optional[int] = None) -> Check:
    """An int (not a bool or a float) in ``low..high`` (``high`` None: no upper bound)."""
    def check(value: Any, where: str) -> int:
        if type(value) is not int:
            raise Invalid("value", where, "should be an integer", value)
        if value < low:
            raise Invalid("value", where, "should be greater than 0" if low == 1 else f"should be at least {low}",
                          value)
        if high is not None and value > high:
            raise Invalid("value", where, f"should be at most {high}", value)
        return value
    return check


def real(above: Optional[float] = None, at_least: Optional[float] = None,
         below: Optional[float] = None, at_most: Optional[float] = None) -> Check:
    """A finite int or float (not a bool) within the bounds given: ``above`` and ``below``
    exclusive, ``at_least`` and ``at_most`` inclusive."""
    def check(value: Any, where: str) -> float:
        if type(value) is not int and (type(value) is not float or not math.isfinite(value)):
            raise Invalid("value", where, "should be a finite number", value)
        if above is not None and value <= above:
            raise Invalid("value", where, f"should be greater than {above}", value)
        if at_least is not None and value < at_least:
            raise Invalid("value", where, f"should be at least {at_least}", value)
        if below is not None and value >= below:
            raise Invalid("value", where, f"should be less than {below}", value)
        if at_most is not None and value > at_most:
            raise Invalid("value", where, f"should be at most {at_most}", value)
        return value
    return check


#: A finite int or float.
number = real()


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


def node(kind: type[N]) -> Check:
    """A nested mapping checked as ``kind`` (an instance of ``kind`` passes as it is)."""
    return lambda value, where: value if isinstance(value, kind) else kind.read(value, where + ".")


class Node:
    """A checked, read-only mapping: subclasses list their keys as class attributes
    (:func:`field`, :func:`section`), in the order of the file."""

    rules: ClassVar[dict[str, "Rule"]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        rules = {key: value for key, value in vars(cls).items() if isinstance(value, Rule)}
        for key in rules:
            delattr(cls, key)
        cls.rules = {**cls.rules, **rules}

    def __init__(self, **values: Any) -> None:
        """Checked as :meth:`read` checks a file's mapping (nested nodes may be given as nodes)."""
        self._fill(values, "")

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return tuple(cls.rules)

    @classmethod
    def read(cls: type[N], raw: Any, where: str = "") -> N:
        """``raw`` checked as this kind; ``where`` is the dotted prefix of its keys (``a.b.``)."""
        checked = object.__new__(cls)
        checked._fill(raw, where)
        return checked

    def _fill(self, raw: Any, where: str) -> None:
        if type(raw) is not dict:
            raise Invalid("value", where.rstrip(".") or "(top level)", "should be a mapping", raw)
        rules = type(self).rules
        unknown = [key for key in raw if key not in rules]
        if unknown:
            guess = get_close_matches(str(unknown[0]), list(rules), n=1)
            hint = f" (did you mean '{where}{guess[0]}'?)" if guess else f"; expected one of {list(rules)}"
            raise Invalid("extra", f"{where}{unknown[0]}", hint)
        for key, rule in rules.items():
            value = raw.get(key, _ABSENT)
            if value is _ABSENT:
                if rule.required:
                    raise Invalid("missing", f"{where}{key}")
                value = rule.default()
            else:
                value = rule.check(value, f"{where}{key}")
            object.__setattr__(self, key, value)
        self._whole(where)

    def _whole(self, where: str) -> None:
        """Rules across keys, and defaults that follow other keys, once every key is read
        (raise :class:`Invalid`; settle a value with ``object.__setattr__``)."""

    def dump(self) -> dict[str, Any]:
        """The keys and values as plain YAML/JSON data (nested nodes as mappings)."""
        return {key: _plain(value) for key, value in vars(self).items()}

    def replace(self: N, **changes: Any) -> N:
        """A copy with ``changes``, checked again."""
        return type(self)(**{**{key: getattr(self, key) for key in type(self).rules}, **changes})

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]  # equal by value, and values (lists) are not hashable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{key}={value!r}' for key, value in vars(self).items())})"


def _plain(value: Any) -> Any:
    if isinstance(value, Node):
        return value.dump()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class Rule:
    """A key: how to check its value, what it is when the file leaves it out (``default``
    given: optional), what it means (``doc``), and the :class:`Node` kind of a section."""

    def __init__(self, check: Check, default: Any = _ABSENT, doc: str = "", kind: Optional[type[Node]] = None) -> None:
        self.check, self._default, self.doc, self.kind = check, default, doc, kind
        self.required = default is _ABSENT

    def default(self) -> Any:
        """The default, a fresh copy of a list or mapping (a node is read-only: shared)."""
        return type(self._default)(self._default) if isinstance(self._default, (list, dict)) else self._default


def field(check: Check, default: Any = _ABSENT, doc: str = "") -> Any:
    """A key whose value passes ``check``; optional when ``default`` is given."""
    return Rule(check, default, doc)


def section(kind: type[Node], optional: bool = False, doc: str = "") -> Any:
    """A key holding a nested mapping checked as ``kind``; ``optional``: left out, it is
    ``kind``'s defaults."""
    return Rule(node(kind), kind() if optional else _ABSENT, doc, kind)
