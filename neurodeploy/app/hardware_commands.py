"""The ``neurodeploy profiles`` and ``neurodeploy validate`` commands.

Imports beyond click happen inside the commands so ``neurodeploy --help`` stays fast.
``validate`` exits 0 when the network is deployable and 1 when any finding is an error;
unusable input raises :class:`NeurodeployError`, which the CLI turns into exit code 2.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import click

from neurodeploy.app.report.output import check_json_target, emit, json_option, table_console

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from neurodeploy.hardware.resources import InputPlacement, LayerMapping
    from neurodeploy.hardware.validate import ValidationReport

_STYLES = {"error": "bold red", "warning": "yellow", "info": "dim"}


@click.command()
def profiles() -> None:
    """List the hardware profiles in hw_configs/ with a one-line summary each."""
    from neurodeploy.core.errors import NeurodeployError
    from neurodeploy.hardware.profile import list_profiles, load_profile, profiles_dir

    paths = list_profiles()
    if not paths:
        raise NeurodeployError(f"no profiles (*.yaml) in {profiles_dir()}")
    for path in paths:
        try:
            summary = load_profile(path).summary
        except NeurodeployError as error:
            summary = f"invalid: {error}"
        click.echo(f"{path.stem:<12} {summary}")


@click.command()
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--hw", required=True, metavar="NAME|PATH",
              help="Profile name from hw_configs/ (e.g. loihi2) or the path of a profile YAML.")
@click.option("--manifest", "manifest", type=click.Path(dir_okay=False),
              help="Deployment manifest (default: manifest.json beside NETWORK, when present).")
@click.option("--activity", type=click.Path(dir_okay=False),
              help="JSON with synaptic_ops_per_sample, neuron_updates_per_sample and "
                   "spikes_per_sample from a simulation, for the energy estimate.")
@json_option("validation report")
@click.option("--map", "map_path", type=click.Path(dir_okay=False), metavar="FILE.json",
              help="Write the core map: per layer its tile, cores, binding limit and the "
                   "utilisation of each per-core resource.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), metavar="FILE.png",
              help="Draw cores per layer and per-resource utilisation.")
def validate(network: str, hw: str, manifest: Optional[str], activity: Optional[str], json_path: Optional[str],
             map_path: Optional[str], plot_path: Optional[str]) -> None:
    """Check NETWORK (a netx .net file) against a hardware profile.

    Exit code 0: deployable; 1: at least one error; 2: unusable input."""
    from neurodeploy.core.atomic import check_output
    from neurodeploy.hardware.validate import validate_file

    check_json_target(json_path, "validation report")
    for target, what in ((map_path, "core map"), (plot_path, "core map plot")):
        if target:
            check_output(target, what)
    report = validate_file(network, hw, manifest, activity)
    if map_path:
        from neurodeploy.core.atomic import write_json

        write_json(map_path, {"network": report.network, "profile": report.profile,
                              **report.mapping.to_dict()})
        click.echo(f"wrote {map_path} (core map)", err=True)
    if plot_path:
        from neurodeploy.app.report.mapping_plot import plot_core_map

        plot_core_map(report.mapping, plot_path, f"{Path(report.network).name} on {report.profile_title}",
                      failing={finding.layer for finding in report.findings if finding.severity == "error"})
        click.echo(f"wrote {plot_path} (core map plot)", err=True)
    emit(json_path, report.to_dict(), lambda: render(report, table_console(min_width=140)))
    if activity:
        from neurodeploy.interop.silence import silent_in_activity

        for line in silent_in_activity(activity):
            click.echo(f"warning: {line}", err=True)
    if report.exit_code:
        sys.exit(report.exit_code)


def render(report: "ValidationReport", console: "Console") -> None:
    """The human report: findings, the core map, one summary line."""
    from rich.table import Table
    from rich.text import Text

    findings = Table(title=f"{report.network} on {report.profile_title}", title_justify="left")
    for column in ("severity", "layer", "check", "value", "limit", "source", "suggested fix"):
        findings.add_column(column, overflow="fold")
    for finding in report.findings:
        findings.add_row(Text(finding.severity, style=_STYLES[finding.severity]),
                         *(Text(_text(cell)) for cell in (finding.layer, finding.check, finding.value,
                                                          finding.limit, finding.source, finding.fix)))
    if report.findings:
        console.print(findings)
    console.print(_compiler_table(report) if report.mapping.accounting == "loihi2-compiler"
                  else _core_table(report))
    console.print(Text(f"input: {_input(report.mapping.input)}", style="dim"))
    console.print(Text(summary_line(report), style="bold"))
    for line in report.estimate.notes:
        console.print(Text(f"note: {line}", style="dim"))


def _core_table(report: "ValidationReport") -> "Table":
    from rich.table import Table

    mapping = Table(title="Core map", title_justify="left")
    for column in ("layer", "neurons", "synapses", "cores", "tile", "neurons/core", "binding limit"):
        mapping.add_column(column, justify="left" if column in ("layer", "tile", "binding limit") else "right")
    for layer in report.mapping.layers:
        mapping.add_row(layer.name, str(layer.neurons), str(layer.synapses), str(layer.cores),
                        _tile(layer), str(layer.neurons_per_core), _binding(layer))
    return mapping


def _compiler_table(report: "ValidationReport") -> "Table":
    """The core map in the columns of Intel's compiler table ("Per core utilization"),
    busiest core of each layer, input first (the compiler prints the output first)."""
    from rich.table import Table

    from neurodeploy.hardware.compiler_map import HEADERS

    table = Table(title="Per core utilization (as Intel's Loihi 2 compiler prints it; busiest core)",
                  title_justify="left", caption=f"Total: {report.mapping.cores} cores", caption_justify="left")
    table.add_column("layer")
    for header in HEADERS.values():
        table.add_column(header, justify="right")
    table.add_column("Cores", justify="right")
    table.add_column("tile")
    table.add_column("binding")
    for layer in report.mapping.layers:
        shares = [f"{100 * layer.utilisation[key]:.2f}%" for key in HEADERS]
        table.add_row(layer.name, *shares, str(layer.cores), _conv_tile(layer), _binding(layer))
    return table


def _conv_tile(layer: "LayerMapping") -> str:
    """``Conv(x, y, c)`` as the compiler names a conv tile; ``N neurons`` otherwise."""
    if len(layer.tile) == 3:
        return f"Conv({layer.tile[0]}, {layer.tile[1]}, {layer.tile[2]})"
    return f"{layer.tile[0]} neurons"


def summary_line(report: "ValidationReport") -> str:
    estimate = report.estimate
    steps = estimate.steps_per_sample if estimate.steps_per_sample is not None else "?"
    parts = [f"{report.verdict.upper()}: {report.count('error')} errors, "
             f"{report.count('warning')} warnings",
             f"{report.mapping.cores} cores", f"{report.mapping.chips} chip(s)"
             + (f" ({report.mapping.system})" if report.mapping.system else ""),
             f"{steps} steps/sample"]
    if estimate.time_per_sample_s:
        parts.append(f"time/sample {_range(estimate.time_per_sample_s, 's')}")
    if estimate.busiest_layer and estimate.step_time_s:
        parts.append(f"step {_range(estimate.step_time_s, 's')} (busiest core: {estimate.busiest_layer})")
    energy = estimate.energy_per_sample_j or estimate.dynamic_energy_per_sample_j
    if energy:
        kind = "" if estimate.energy_per_sample_j else " (dynamic only)"
        parts.append(f"energy/sample {_range(energy, 'J')}{kind}")
    return ", ".join(parts)


def _tile(layer: "LayerMapping") -> str:
    """``x4 y32 channel8`` for a conv tile, ``neuron34`` for a dense one."""
    return " ".join(f"{axis}{size}" for axis, size in zip(layer.axes, layer.tile))


def _binding(layer: "LayerMapping") -> str:
    if layer.blocked:
        return "cannot map: " + ", ".join(layer.blocked)
    if layer.binding in layer.utilisation:
        return f"{layer.binding} ({100 * layer.utilisation[layer.binding]:.0f}%)"
    return layer.binding


def _input(placement: "InputPlacement") -> str:
    """One line on where the input comes from (docs/mapping.md, "The input")."""
    if placement.placement == "on-chip":
        return (f"{placement.layer}: {placement.sources} neurons on chip (netx Input block), "
                "driven through their bias; no input axons or synapses")
    if placement.feeds is None:
        return "no layer with neurons"
    return (f"{placement.sources} sources injected by the host into {placement.feeds}: "
            f"{placement.targets} (source, core) targets, up to {placement.max_cores_per_source} "
            "cores per source, each an input axon there")


def _range(bounds: tuple[float, float], unit: str) -> str:
    return f"{_si(bounds[0], unit)}-{_si(bounds[1], unit)}"


def _si(value: float, unit: str) -> str:
    for factor, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _text(value: object) -> str:
    return "" if value is None else str(value)
