"""The private parts of Lava (and of Python's multiprocessing) this toolkit relies on,
checked before it relies on them.

Aborting a run after a fault, the watchdog's view of Lava's processes, the in-run early
exit and the DA-SSDP connection reach attributes Lava does not publish. Read with a
fallback, a renamed one would make cleanup or learning silently do nothing; so each user
names what it needs once, before its first run, with :func:`require`, and a missing one is
a :class:`LavaInternalsError` that names it and the versions this toolkit is written for.
Afterwards the attributes are used directly: no ``getattr(..., None)``.
"""
from __future__ import annotations

import dis
import importlib.metadata
import platform
import types
from functools import cache
from typing import Any, Iterable

from neurodeploy.core.errors import NeurodeployError
from neurodeploy.core.extras import installed_version

#: The Python this toolkit is written against (``python_requires`` in setup.cfg): the
#: pin to name for a private attribute of the standard library.
PYTHON_PIN = "Python 3.10"


class LavaInternalsError(NeurodeployError):
    """The installed Lava (or Python) lacks an attribute this toolkit relies on."""


def require(owner: Any, names: Iterable[str], purpose: str, pinned: str | None = None) -> None:
    """Raise :class:`LavaInternalsError` unless ``owner`` (a class, module or object) has
    every attribute in ``names``; ``purpose`` says what they are needed for.

    For a class, an attribute counts as present when the class (or a base) defines it or
    one of their methods assigns it to ``self`` (Lava sets most of its private state in
    ``__init__``), so a class can be checked before any instance exists. ``pinned`` is
    the version the attributes were read from (default: the lava-nc of setup.cfg)."""
    missing = [name for name in names if not _has(owner, name)]
    if missing:
        raise LavaInternalsError(
            f"{_name(owner)} has no {', '.join(missing)}: neurodeploy needs "
            f"{'it' if len(missing) == 1 else 'them'} for {purpose}; it is written against "
            f"{pinned or pinned_lava()} (installed: lava-nc {installed_version('lava-nc')}, Python {platform.python_version()})")


@cache
def pinned_lava() -> str:
    """The lava-nc requirement neurodeploy is installed with, e.g. ``lava-nc==0.10.0``."""
    try:
        requirements = importlib.metadata.requires("neurodeploy") or []
    except importlib.metadata.PackageNotFoundError:
        requirements = []
    pins = [text.split(";")[0].strip() for text in requirements if text.startswith("lava-nc")]
    return pins[0] if pins else "the lava-nc pinned in setup.cfg"


def _has(owner: Any, name: str) -> bool:
    if hasattr(owner, name):
        return True
    return isinstance(owner, type) and any(name in _assigned_to_self(klass) for klass in owner.__mro__)


@cache
def _assigned_to_self(klass: type) -> frozenset[str]:
    """The attributes the methods of ``klass`` itself assign to their first argument."""
    names: set[str] = set()
    for member in vars(klass).values():
        function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
        code = getattr(function, "__code__", None)
        if not isinstance(code, types.CodeType) or not code.co_argcount:
            continue
        this = code.co_varnames[0]
        previous = None
        for instruction in dis.get_instructions(code):
            if instruction.opname == "STORE_ATTR" and previous is not None \
                    and previous.opname == "LOAD_FAST" and previous.argval == this:
                names.add(instruction.argval)
            previous = instruction
    return frozenset(names)


def _name(owner: Any) -> str:
    if isinstance(owner, types.ModuleType):
        return owner.__name__
    klass = owner if isinstance(owner, type) else type(owner)
    return f"{klass.__module__}.{klass.__qualname__}"
