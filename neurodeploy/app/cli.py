"""The `neurodeploy` command: one entry point, one sub-command per stage.

Heavy imports (torch, lava) happen inside the commands so `neurodeploy --help` starts
fast. Every user error is a :class:`NeurodeployError`; ``main`` prints it as one line
and exits with code 2, never a traceback.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Optional

import click

from neurodeploy.backends import DEFAULT_BACKEND, NAMES, backend, installed_names, require_installed
from neurodeploy.core.errors import NeurodeployError
from neurodeploy.core.extras import OPTIONAL_MODULES, missing_extra, require
from neurodeploy.app.report.output import check_json_target, emit, json_option

EXIT_USAGE = 2


def _overrides(pairs: tuple[str, ...]) -> dict[str, Any]:
    """Parse ``--set train.epochs=3`` pairs; values are read as YAML scalars."""
    from neurodeploy.core.errors import shown
    from neurodeploy.core.yamlfile import parse_yaml

    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise NeurodeployError(f"--set {shown(pair)}: expected KEY=VALUE, e.g. train.epochs=3")
        result[key] = parse_yaml(value, f"--set {shown(key)}", "value")
    return result


def _finite(ctx: click.Context, param: click.Parameter, value: Optional[float]) -> Optional[float]:
    """Reject NaN, which passes click's FloatRange (every comparison with it is false)."""
    if value is not None and value != value:
        raise click.BadParameter(f"{value} is not a number")
    return value


def require_lava(what: str, hint: str = "") -> None:
    """Stop a command that needs Lava or SLAYER before it reads or imports anything, where the
    [lava] extra is not installed (the core install on Python 3.11+)."""
    require("lava", what, hint)


def require_backend(name: str) -> None:
    """Stop ``simulate --backend NAME`` where what the backend needs is not installed,
    naming the extra and the backends that run without it (a spec look-up, no import)."""
    if backend(name).requires is not None:
        default = " (the default)" if name == DEFAULT_BACKEND else ""
        others = " or ".join(installed_names())
        require_installed(name, f"simulate --backend {name}{default}",
                          f"--backend {others} runs without it" if others else "")


def _ray_installed(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
    """``--ray`` without Ray fails here, before any input is read; in a log (not a terminal)
    Ray's worker lines come without colour codes."""
    if value is not None:
        require("ray", "this")
    if value is not None and not sys.stderr.isatty():
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")  # Ray's worker lines in a log: no colour codes
    return value


ray_option = click.option("--ray", metavar="ADDRESS|local", default=None, callback=_ray_installed,
                          help="Run as Ray tasks: on the Ray cluster at ADDRESS, or 'local' to start Ray here.")
set_option = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                          help="Override a config value, e.g. --set train.epochs=3.")


def resume_options(command):
    """``--fresh`` / ``--resume``: what to do with a checkpoint in the run folder that is not
    obviously this run's (default: resume it only when it is)."""
    command = click.option("--resume", "resume", flag_value="resume",
                           help="Continue the run folder's checkpoint even on another number of processes.")(command)
    return click.option("--fresh", "resume", flag_value="fresh", default="auto", show_default=False,
                        help="Train from scratch; the run folder's checkpoint is replaced after the first epoch.")(command)


def _quiet(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    from neurodeploy.core.progress import set_quiet

    set_quiet(value)
    return value


quiet_option = click.option("--quiet", "-q", is_flag=True, expose_value=False, callback=_quiet,
                            help="No progress and no messages: only results and errors.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="neurodeploy")
def cli() -> None:
    """Train spiking networks with lava-dl SLAYER, export them to netx, run them on
    Lava's Loihi simulator and check them against chip profiles."""


@cli.command()
@click.argument("name", default="digits")
@click.argument("folder", default=".", type=click.Path(file_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File to write (default: FOLDER/NAME.yaml).")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
def init(name: str, folder: str, output: Optional[str], force: bool) -> None:
    """Write a starter file to edit into FOLDER (default: here).

    NAME is an example config (digits, conv_digits, mnist5k, mnist5k_conv, cifar10),
    written with every key, its default and its meaning; or a chip profile (loihi1,
    loihi2), copied to make your own (see `neurodeploy profiles`)."""
    from neurodeploy.app.starter import profile_names, write_starter

    target = write_starter(name, folder, output, force)
    if name in profile_names():
        click.echo(f"wrote {target}; edit it, then: NEURODEPLOY_HW_CONFIGS={target.parent} "
                   f"neurodeploy validate model.net --hw {target.stem}")
    else:
        click.echo(f"wrote {target}; next: neurodeploy check {target}, then neurodeploy run {target}")


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Run folder (default: config's output).")
@set_option
@resume_options
def train(config: str, output: Optional[str], overrides: tuple[str, ...], resume: str) -> None:
    """Train a SLAYER network from CONFIG and export it (model.net + manifest.json).

    A checkpoint in the run folder is resumed when it is the same run (same config,
    epochs aside; no more epochs than asked; as many processes), and the first line
    says so; anything else stops with the choice: --fresh or --resume."""
    require_lava("train")
    from neurodeploy.app.train_export import train_and_export

    train_and_export(config, _overrides(overrides), output, resume=resume)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Run folder (default: config's output).")
@set_option
def check(config: str, output: Optional[str], overrides: tuple[str, ...]) -> None:
    """Check CONFIG, its profiles, data set and run folder, as train and run do first;
    trains nothing. Exit code 0: usable; 2: the first problem, in one line."""
    from neurodeploy.app.preflight import preflight

    click.echo(f"ok: {preflight(config, _overrides(overrides), output).summary}")


@cli.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="Path of the .net to write.")
def export(checkpoint: str, output: str) -> None:
    """Export a training CHECKPOINT (.pt) to a netx .net file with its manifest."""
    require_lava("export")
    from neurodeploy.app.train_export import export_checkpoint

    export_checkpoint(checkpoint, output)


def _reset_interval(value: Optional[str]) -> Optional[int]:
    """``--reset-interval``: a whole number of steps, or ``none`` (0 here) for no reset."""
    if value is None:
        return None
    if value.lower() == "none":
        return 0
    if not value.isdigit() or int(value) < 1:
        raise NeurodeployError(f"--reset-interval {value!r}: expected a whole number of steps >= 1, or 'none'")
    return int(value)


def input_options(command):
    """The options that say what a ``.net`` is fed; shared by ``simulate`` and ``parity``."""
    options = [
        click.option("--config", "-c", "config", type=click.Path(dir_okay=False),
                     help="Config naming the encoding and data set (default: the manifest's)."),
        click.option("--spikes", type=click.Path(dir_okay=False),
                     help="Spike array (N, T, *input_shape) in .npy/.npz, bool or 0/1, instead of a data set."),
        click.option("--bias", type=click.Path(dir_okay=False),
                     help="Bias mantissas (N, *input_shape) for netx's Input block, held --steps steps."),
        click.option("--labels", type=click.Path(dir_okay=False),
                     help="Integer labels (N,) for --spikes/--bias (an .npz may hold them as 'labels')."),
        click.option("--layout", type=click.Choice(["chw", "whc"]), default="chw", show_default=True,
                     help="Axis order of --spikes/--bias: torch's CHW or netx's WHC."),
        click.option("--steps", type=click.IntRange(min=1), help="Steps per sample (checks --spikes; needed by --bias)."),
        click.option("--reset-interval", "reset_interval", metavar="K|none",
                     help="Reset the neurons every K steps (each layer at netx's offset), or never; "
                          "default: once per sample."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.command()
@click.argument("network", type=click.Path(dir_okay=False))
@input_options
@click.option("--samples", "-n", type=click.IntRange(min=1), help="Number of samples (default: all).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True, max=1e6),
              default=None, callback=_finite, help="Wall-clock limit in seconds for the Lava run (default: none; a run with no new time step for 30 s is stopped as hung).")
@json_option("metrics")
@click.option("--save-output", type=click.Path(dir_okay=False),
              help="Write to this .npz output_spikes (N, decode steps, outputs): every output spike of each "
                   "sample's decode window, and output_counts (N, outputs): their sums, what predictions use.")
@click.option("--backend", type=click.Choice(NAMES), default=DEFAULT_BACKEND, show_default=True,
              help="Lava's simulator, or the batched emulator that is bit-exact with it.")
@click.option("--exit-threshold", type=click.FloatRange(min=0, max=1e9), default=None, callback=_finite,
              help="Early exit on Lava: stop a sample once the top-two output count margin reaches this.")
@ray_option
@click.option("--device", default="cpu", show_default=True, metavar="cpu|cuda|cuda:N|auto",
              help="Where the emulator computes (bit-exact on a GPU too); Lava runs on the CPU.")
def simulate(network: str, config: Optional[str], spikes: Optional[str], bias: Optional[str],
             labels: Optional[str], layout: str, steps: Optional[int], reset_interval: Optional[str],
             samples: Optional[int], timeout_s: Optional[float], json_path: Optional[str],
             save_output: Optional[str], backend: str, exit_threshold: Optional[float], ray: Optional[str],
             device: str) -> None:
    """Run NETWORK (.net) on Lava's Loihi2SimCfg fixed_pt simulator (or its emulator).

    Inputs: a data set (the manifest's or --config's) through the encoder, or --spikes /
    --bias arrays; accuracy is printed only when labels are known."""
    require_backend(backend)
    from neurodeploy.app.pipeline import InputRequest, simulate_network

    request = InputRequest(config, spikes, bias, labels, layout, steps, samples, _reset_interval(reset_interval))
    simulate_network(network, request, timeout_s, json_path, backend, exit_threshold, save_output, ray,
                     device=device)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Run folder (default: config's output).")
@set_option
@resume_options
def run(config: str, output: Optional[str], overrides: tuple[str, ...], resume: str) -> None:
    """Train, export, simulate on Lava and summarise, all from CONFIG (training resumes
    as `train` does: --fresh, --resume)."""
    require_lava("run")
    from neurodeploy.app.pipeline import run_all

    run_all(config, _overrides(overrides), output, resume=resume)


from neurodeploy.app.hardware_commands import profiles, validate  # noqa: E402  (light: click only)

cli.add_command(profiles)
cli.add_command(validate)

@cli.command()
@click.argument("network", type=click.Path(dir_okay=False))
@input_options
@click.option("--samples", "-n", type=click.IntRange(min=1), default=20, show_default=True, help="Number of samples.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True, max=1e6), default=None,
              callback=_finite, help="Wall-clock limit in seconds for the Lava run (default: none; a run with no new time step for 30 s is stopped as hung).")
@json_option("parity report")
@click.option("--checkpoint", type=click.Path(dir_okay=False), metavar="FILE.pt",
              help="Also run torch (SLAYER) from this training checkpoint, e.g. the run folder's "
                   "checkpoint.pt; read as plain data, and only when given.")
@ray_option
def parity(network: str, config: Optional[str], spikes: Optional[str], bias: Optional[str],
           labels: Optional[str], layout: str, steps: Optional[int], reset_interval: Optional[str],
           samples: int, timeout_s: Optional[float], json_path: Optional[str], checkpoint: Optional[str],
           ray: Optional[str]) -> None:
    """Compare the emulator and Lava fixed_pt (and torch, with --checkpoint) on the same
    samples: per layer, the first frame step where spikes differ, how many differ,
    voltage divergence, prediction agreement.

    Exit code 0: emulator and Lava agree exactly; 1: they do not; 2: unusable input."""
    if checkpoint is None:  # Lava may run in a worker (NEURODEPLOY_LAVA_PYTHON); SLAYER runs here
        require_installed("lava", "parity")
    else:
        require_lava("parity")
    from neurodeploy.app.api import parity as parity_of
    from neurodeploy.core.netxfile import read_netx
    from neurodeploy.app.pipeline import InputRequest, parity_on_ray, simulation_inputs
    from neurodeploy.app.report.parity_table import render

    check_json_target(json_path, "parity report")
    description = read_netx(network)
    if checkpoint is not None:
        from neurodeploy.training.checkpoint import trained_network

        checkpoint = trained_network(checkpoint)  # read once, first: a bad one stops here
    request = InputRequest(config, spikes, bias, labels, layout, steps, samples, _reset_interval(reset_interval))
    if request.reset_interval is not None:
        raise click.UsageError("parity compares the per-sample reset plan only; drop --reset-interval")
    inputs, _ = simulation_inputs(description, request)
    report = (parity_of(description, inputs, timeout_s=timeout_s, checkpoint=checkpoint) if ray is None
              else parity_on_ray(ray, description, inputs, timeout_s, checkpoint))
    emit(json_path, report.to_dict(), lambda: render(report))
    if not report.emulator_exact:
        sys.exit(1)




@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--encodings", default="rate,ttfs,rate_bit,temporal_bit", show_default=True,
              help="Comma-separated encodings to train and compare.")
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Seeds per encoding (0..N-1); each seed trains one network per encoding.")
@click.option("--output", "-o", type=click.Path(file_okay=False), default="runs/compare", show_default=True,
              help="Folder for compare.md, compare.json, the plots and one run folder per encoding and seed.")
@set_option
@ray_option
def compare(config: str, encodings: str, seeds: int, output: str, overrides: tuple[str, ...],
            ray: Optional[str]) -> None:
    """Train CONFIG once per encoding and seed; report accuracy, spikes, early exit and energy."""
    require_lava("compare")
    from neurodeploy.app.compare import compare_encodings
    from neurodeploy.core.encoding import ENCODINGS

    chosen = [name.strip() for name in encodings.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in ENCODINGS]
    if unknown or not chosen:
        raise NeurodeployError(f"--encodings: unknown {unknown or 'empty list'}; expected some of {list(ENCODINGS)}")
    compare_encodings(config, chosen, seeds, output, overrides=_overrides(overrides), ray=ray)
    click.echo(f"wrote {output}/compare.md, compare.json and plots")


def _show_cut(error: click.ClickException) -> None:
    """click's report of a usage error, each line cut short: it quotes the bad value,
    which can be megabytes long."""
    import io

    from neurodeploy.core.errors import SHOWN_CHARACTERS

    report = io.StringIO()
    error.show(file=report)
    limit = 4 * SHOWN_CHARACTERS
    for line in report.getvalue().splitlines():
        click.echo(line if len(line) <= limit else f"{line[:limit - 3]}...", err=True)


class Interrupted(BaseException):
    """Ctrl-C, raised by :func:`main`'s SIGINT handler instead of KeyboardInterrupt (which
    click would turn into an Abort after printing a blank line)."""


def _interrupt(signum: int, frame: Any) -> None:
    raise Interrupted()


def main(argv: Optional[list[str]] = None) -> None:
    """Console entry point: user errors become one line on stderr and exit code 2; Ctrl-C
    one line and exit code 130. Called as the console script (no ``argv``), an interrupted
    process ends at once: Lava is already stopped, outputs are atomic, and the interpreter's
    own teardown of torch and Lava takes seconds."""
    import signal
    import threading

    handler = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _interrupt) if handler else None
    try:
        cli.main(args=argv, standalone_mode=False)
    except NeurodeployError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_USAGE)
    except ModuleNotFoundError as error:
        module = (error.name or "").partition(".")[0]
        if module not in OPTIONAL_MODULES:
            raise
        click.echo(f"error: {missing_extra(module)}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        _show_cut(error)
        sys.exit(EXIT_USAGE)
    except (KeyboardInterrupt, Interrupted):
        click.echo("interrupted", err=True)
        if argv is None:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        sys.exit(130)
    finally:
        if handler:
            signal.signal(signal.SIGINT, previous)


from neurodeploy.app.nir_commands import export_nir, import_nir, parity_nir  # noqa: E402  (light: click only)

cli.add_command(import_nir)
cli.add_command(export_nir)
cli.add_command(parity_nir)
for _command in (train, export, simulate, run, parity, compare, import_nir, export_nir, parity_nir):
    quiet_option(_command)


if __name__ == "__main__":
    main()
