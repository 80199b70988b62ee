"""The `neurodeploy` command: one entry point, one sub-command per stage.

Heavy imports (torch, lava) happen inside the commands so `neurodeploy --help` starts
fast. Every user error is a :class:`NeurodeployError`; ``main`` prints it as one line
and exits with code 2, never a traceback.
"""
from __future__ import annotations

import sys
from typing import Any, Optional

import click

from neurodeploy.errors import NeurodeployError

EXIT_USAGE = 2


def _overrides(pairs: tuple[str, ...]) -> dict[str, Any]:
    """Parse ``--set train.epochs=3`` pairs; values are read as YAML scalars."""
    import yaml

    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise NeurodeployError(f"--set {pair!r}: expected KEY=VALUE, e.g. train.epochs=3")
        result[key] = yaml.safe_load(value)
    return result


set_option = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                          help="Override a config value, e.g. --set train.epochs=3.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="neurodeploy")
def cli() -> None:
    """Train spiking networks with lava-dl SLAYER, export them to netx, run them on
    Lava's Loihi simulator and check them against chip profiles."""


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Run folder (default: config's output).")
@set_option
def train(config: str, output: Optional[str], overrides: tuple[str, ...]) -> None:
    """Train a SLAYER network from CONFIG and export it (model.net + manifest.json)."""
    from neurodeploy.pipeline import train_and_export

    train_and_export(config, _overrides(overrides), output)


@cli.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="Path of the .net to write.")
def export(checkpoint: str, output: str) -> None:
    """Export a training CHECKPOINT (.pt) to a netx .net file with its manifest."""
    from neurodeploy.pipeline import export_checkpoint

    export_checkpoint(checkpoint, output)


@cli.command()
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--config", "-c", "config", type=click.Path(dir_okay=False), help="Config naming the data set (default: the manifest's).")
@click.option("--samples", "-n", type=int, help="Number of test samples (default: all).")
@click.option("--timeout", "timeout_s", type=float, default=None, help="Watchdog in seconds for the Lava run.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write metrics JSON here.")
@click.option("--backend", type=click.Choice(["lava", "emulator"]), default="lava", show_default=True,
              help="Lava's simulator, or the batched emulator that is bit-exact with it.")
@click.option("--exit-threshold", type=float, default=None,
              help="Early exit on Lava: stop a sample once the top-two output count margin reaches this.")
def simulate(network: str, config: Optional[str], samples: Optional[int], timeout_s: Optional[float],
             json_path: Optional[str], backend: str, exit_threshold: Optional[float]) -> None:
    """Run NETWORK (.net) on Lava's Loihi2SimCfg fixed_pt simulator (or its emulator) over test data."""
    from neurodeploy.pipeline import simulate_network

    simulate_network(network, config, samples, timeout_s, json_path, backend, exit_threshold)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Run folder (default: config's output).")
@set_option
def run(config: str, output: Optional[str], overrides: tuple[str, ...]) -> None:
    """Train, export, simulate on Lava and summarise, all from CONFIG."""
    from neurodeploy.pipeline import run_all

    run_all(config, _overrides(overrides), output)


from neurodeploy.hardware.commands import profiles, validate  # noqa: E402  (light: click only)

cli.add_command(profiles)
cli.add_command(validate)

from neurodeploy.sim.commands import parity  # noqa: E402  (light: click only)

cli.add_command(parity)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--encodings", default="rate,ttfs,rate_bit,temporal_bit", show_default=True,
              help="Comma-separated encodings to train and compare.")
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--output", "-o", type=click.Path(file_okay=False), default="runs/compare", show_default=True)
def compare(config: str, encodings: str, seeds: int, output: str) -> None:
    """Train CONFIG once per encoding and seed; report accuracy, spikes, early exit and energy."""
    from neurodeploy.compare import compare as run_compare
    from neurodeploy.encoding import ENCODINGS

    chosen = [name.strip() for name in encodings.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in ENCODINGS]
    if unknown or not chosen:
        raise NeurodeployError(f"--encodings: unknown {unknown or 'empty list'}; expected some of {list(ENCODINGS)}")
    run_compare(config, chosen, seeds, output)
    click.echo(f"wrote {output}/compare.md, compare.json and plots")


def main(argv: Optional[list[str]] = None) -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except NeurodeployError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


from neurodeploy.interop.commands import export_nir, import_nir, parity_nir  # noqa: E402  (light: click only)

cli.add_command(import_nir)
cli.add_command(export_nir)
cli.add_command(parity_nir)


if __name__ == "__main__":
    main()
