"""Read the YAML files users write (configs, hardware profiles) without trusting them.

PyYAML's safe loader still expands aliases (a 400-byte "billion laughs" file becomes a
structure whose text is hundreds of megabytes), recurses once per nesting level and
reads any bytes. Here a file is a regular file (not a FIFO or a device), at most
:data:`MAX_BYTES`, UTF-8, nested at most :data:`MAX_DEPTH` levels and alias-free;
anything else is one
:class:`~neurodeploy.core.errors.ConfigError` line naming the file and, where known, the line.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from neurodeploy.core.errors import ConfigError, first_line
from neurodeploy.core.paths import input_file

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster


def _check_events(text: str) -> None:
    """Refuse aliases and deep nesting from the event stream, before anything is built."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not supported", event.start_mark)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                  event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def read_yaml(path: str | Path, what: str) -> Any:
    """The parsed YAML document at ``path`` (``None`` when empty); ``what`` names it in errors."""
    path = input_file(path, what, ConfigError)  # by type first: a FIFO blocks, /dev/zero never ends
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{path}: {what} is {size} bytes; at most {MAX_BYTES} are read")
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except UnicodeDecodeError as error:
        hint = (f"; it is an HDF5 file (a netx .net?): this command takes a YAML {what} "
                f"(`neurodeploy init` writes one); `neurodeploy simulate` runs a .net") if raw.startswith(HDF5_SIGNATURE) else ""
        raise ConfigError(f"{path}: {what} is not UTF-8 text (byte {error.start}){hint}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what} ({error.strerror or error})") from None
    return parse_yaml(text, str(path), what)


def parse_yaml(text: str, source: str, what: str) -> Any:
    """Parse YAML ``text`` (a file's, or a ``--set`` value) by the rules above."""
    if _flow_depth(text) > MAX_DEPTH:
        # PyYAML's scanner is quadratic in flow nesting: refuse before it starts
        raise ConfigError(f"{source}: cannot read YAML {what} (brackets nested deeper than {MAX_DEPTH} levels)")
    try:
        _check_events(text)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: cannot read YAML {what}{_where(error)} ({_problem(error)})") from None
    except RecursionError:
        raise ConfigError(f"{source}: cannot read YAML {what} (nested too deeply)") from None


def _flow_depth(text: str) -> int:
    """Deepest nesting of ``[`` and ``{`` outside quotes (a quote ends at the line's end)."""
    depth = deepest = 0
    quote = None
    for character in text:
        if character == "\n":
            quote = None
        elif quote:
            quote = None if character == quote else quote
        elif character in "\"'":
            quote = character
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _where(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f" at line {mark.line + 1}" if mark is not None else ""


def _problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or first_line(error)
    return str(problem)[:120]
