"""How every command hands its report out: one ``--json`` convention and one table console.

``--json PATH`` prints the table and writes the report as JSON to PATH; ``--json -`` (or
``--json`` alone) prints the JSON to stdout instead of the table, so a pipe gets JSON only
(progress and messages go to stderr). Tables go to stdout; not on a terminal they are as
wide as they need (a log never wraps a command in two) and carry no colour codes.
"""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

import click

if TYPE_CHECKING:
    from rich.console import Console

STDOUT = "-"


def json_option(what: str) -> Callable:
    """The ``--json PATH|-`` option of a command whose report is ``what``."""
    return click.option("--json", "json_path", is_flag=False, flag_value=STDOUT, default=None, metavar="PATH|-",
                        type=click.Path(dir_okay=False, allow_dash=True),
                        help=f"Write the {what} as JSON to PATH besides the table; '-' (or --json alone) "
                             f"prints the JSON to stdout instead of the table.")


def check_json_target(path: Optional[str], what: str) -> None:
    """A ``--json`` file can be written, checked before the command's work."""
    if path and path != STDOUT:
        from neurodeploy.core.atomic import check_output

        check_output(path, what)


def emit(path: Optional[str], report: dict[str, Any], table: Callable[[], None]) -> None:
    """The table (unless ``path`` is ``-``) and the JSON where ``path`` says."""
    if path == STDOUT:
        click.echo(json.dumps(report, indent=2))
        return
    table()
    if path:
        from neurodeploy.core.atomic import write_json

        write_json(path, report)


def table_console(min_width: int = 0) -> "Console":
    """stdout for tables: the terminal's width (at least ``min_width``), or unbounded in a pipe."""
    from rich.console import Console

    if not sys.stdout.isatty():
        return Console(width=1000)
    console = Console()
    return Console(width=max(min_width, console.width)) if min_width else console


def print_fields(title: str, report: dict[str, Any]) -> None:
    """A report's scalar fields as a two-column table (nested keys dotted; lists summarised)."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in _flat(report):
        table.add_row(key, _shown(value))
    table_console().print(table)


def _flat(report: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in report.items():
        if isinstance(value, dict):
            rows += _flat(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return f"[{', '.join(_shown(item) for item in value[:8])}{', ...' if len(value) > 8 else ''}]"
    return str(value)
