"""The library face of neurodeploy: what the CLI does, as functions with typed results.

::

    import neurodeploy as nd
    net = nd.load_network("model.net")                 # read once, typed
    spikes = nd.SpikeInput(np.random.rand(4, 16, 64) < 0.2)
    result = nd.simulate(net, spikes, backend="emulator")
    result.output_counts, result.spikes_per_layer
    report = nd.validate(net, "loihi2")                # findings, core map, verdict

Every function takes a network already read (:class:`NetxNetwork`) or a path, and never
reads a file twice. Heavy imports (torch, Lava) happen inside the functions.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from neurodeploy.backends import DEFAULT_BACKEND, NAMES, require_installed
from neurodeploy.backends import backend as backend_named
from neurodeploy.core.encoding.schedule import FrameSchedule
from neurodeploy.core.errors import InputError, NeurodeployError
from neurodeploy.core.extras import require
from neurodeploy.core.inputs import ImageInput, Inputs, SpikeInput, as_inputs
from neurodeploy.core.netxfile import NetxNetwork, read_netx
from neurodeploy.core.results import SimulationResult

if TYPE_CHECKING:
    from neurodeploy.core.manifest import Manifest
    from neurodeploy.training.network import SpikingNetwork
    from neurodeploy.app.train_export import TrainedRun
    from neurodeploy.app.report.validation import ValidationResult
    from neurodeploy.app.parity import ParityReport

NetworkLike = Union[NetxNetwork, str, Path]


def load_network(path: Union[str, Path]) -> NetxNetwork:
    """Read a netx ``.net`` file (any tool's) into typed layers, once."""
    return read_netx(path)


def simulate(network: NetworkLike, inputs: Union[Inputs, np.ndarray], *, backend: str = DEFAULT_BACKEND,
             schedule: Optional[FrameSchedule] = None, seed: int = 0, reset: bool = True,
             reset_interval: Optional[int] = None, timeout_s: Optional[float] = None,
             record: bool = False, keep_output: bool = False,
             exit_threshold: Optional[float] = None, device: str = "cpu") -> SimulationResult:
    """Run ``inputs`` through ``network`` on Lava's ``Loihi2SimCfg`` fixed_pt simulator or
    on the emulator that is bit-exact with it.

    ``inputs``: :class:`~neurodeploy.core.inputs.ImageInput`, ``SpikeInput``, ``BiasInput``, or
    an array read as :func:`inputs_for` says (spikes, or images encoded with ``schedule``,
    by default the manifest's). ``reset=False`` lets state carry across samples;
    ``reset_interval`` resets every that many steps instead of once per sample.
    ``exit_threshold`` (Lava, images) stops each sample once the top-two output margin
    reaches it. ``timeout_s`` is a wall-clock limit on a Lava run, none by default: the
    watchdog stops a run with no new time step for :data:`neurodeploy.backends.lavasim.runner.STALL_S`
    seconds, however long it takes in all. ``device`` (``cpu``, ``cuda``, ``cuda:N``,
    ``auto``) is where the emulator computes; Lava's simulator runs on the CPU only."""
    chosen = backend_named(backend)
    require_installed(backend, f"simulate(backend={backend!r})")
    if chosen.cpu_only and str(device) != "cpu":
        elsewhere = [name for name in NAMES if not backend_named(name).cpu_only]
        raise NeurodeployError(f"--device {device}: {chosen.title} runs on the CPU only; "
                               f"--backend {' or '.join(elsewhere)} runs on a GPU too")
    description = network if isinstance(network, NetxNetwork) else read_netx(network)
    inputs = inputs_for(description, inputs, schedule, seed)
    if exit_threshold is not None:
        return _early_exit(description, inputs, backend, exit_threshold, timeout_s)
    return chosen.run(description, inputs, record=record, reset=reset, reset_interval=reset_interval,
                      keep_output=keep_output, timeout_s=timeout_s, device=device)


def inputs_for(network: NetxNetwork, data: Union[Inputs, np.ndarray], schedule: Optional[FrameSchedule] = None,
               seed: int = 0) -> Inputs:
    """What ``data`` means for ``network``, or an :class:`InputError` saying how to say it.

    An input object is taken as it is; an :class:`ImageInput` whose schedule is not the one
    in the manifest beside the network draws a warning (the network was trained on that
    one). A ``bool`` array, or 0/1 numbers of any rank but the images' four, are spikes
    ``(N, T, *input_shape)``. ``uint8``/``uint16`` arrays ``(N, C, H, W)`` are images,
    encoded with ``schedule``, by default the manifest's."""
    if isinstance(data, ImageInput):
        manifest = _manifest_of(network)
        if manifest is not None and data.schedule != manifest.schedule:
            warnings.warn(f"{network.path}: these images' frame schedule ({_frame(data.schedule)}) is not the "
                          f"one it was trained with ({_frame(manifest.schedule)}, in its manifest); pass the "
                          f"images as an array, or schedule=None, to use the manifest's", stacklevel=3)
        return data
    if not isinstance(data, np.ndarray):
        return as_inputs(data, schedule, seed)
    if data.dtype == bool or (data.ndim != 4 and data.dtype.kind in "iuf" and _zeros_and_ones(data)):
        return SpikeInput(data.astype(bool))
    if data.ndim == 4 and data.dtype in (np.uint8, np.uint16):
        manifest = _manifest_of(network) if schedule is None else None  # read only for what it gives: a schedule
        chosen = schedule if schedule is not None else (manifest.schedule if manifest is not None else None)
        if chosen is None:
            raise InputError(f"images {data.shape}: {network.path} has no manifest beside it to take the frame "
                             f"schedule from; pass schedule=nd.FrameSchedule(..., gap={network.hops}) (gap: one "
                             f"step per hop, so the last spikes reach the output)")
        return ImageInput(data, chosen, seed)
    raise InputError(f"an array of shape {data.shape} and dtype {data.dtype}: expected spikes (bool, or 0/1, "
                     f"(N, T, *input_shape)) or uint8/uint16 images (N, C, H, W); or say which it is: "
                     f"nd.SpikeInput(array), nd.ImageInput(images, schedule), nd.BiasInput(bias, steps)")


def _manifest_of(network: NetxNetwork) -> Optional["Manifest"]:
    from neurodeploy.core.manifest import Manifest

    return Manifest.beside(network.path) if network.path is not None else None


def _zeros_and_ones(array: np.ndarray) -> bool:
    return bool(array.size) and bool(np.isin(array, (0, 1)).all())


def _frame(schedule: FrameSchedule) -> str:
    return f"{schedule.encoding}, {schedule.frame_steps} steps, gap {schedule.gap}"


def _early_exit(network: NetxNetwork, inputs: Inputs, backend: str, threshold: float,
                timeout_s: Optional[float]) -> SimulationResult:
    if backend != "lava" or not isinstance(inputs, ImageInput):
        raise NeurodeployError("--exit-threshold runs on Lava with images; `neurodeploy compare` "
                               "sweeps thresholds on the emulator")
    if not threshold == threshold or threshold < 0 or threshold == float("inf"):
        raise NeurodeployError(f"--exit-threshold {threshold}: expected a finite margin >= 0")
    require("lava", "--exit-threshold (early exit inside Lava, in this process)")
    from neurodeploy.core.blocks import NetworkTiming
    from neurodeploy.backends.lavasim.early_exit import simulate_early_exit

    run = simulate_early_exit(network, inputs.images, inputs.schedule, threshold, timeout_s=timeout_s)
    timing = NetworkTiming.of(network, inputs.frame_steps)
    return SimulationResult("lava", run.output_counts, {}, timing.neurons,
                            inputs.frame_steps, run.steps_run, run.wall_s,
                            extra={"exit_threshold": float(threshold), "mean_exit_step": run.mean_exit_step})


def validate(network: NetworkLike, profile: Union[str, Path] = "loihi2",
             manifest: Optional[Union[str, Path]] = None,
             activity: Optional[Union[str, Path]] = None) -> "ValidationResult":
    """Check ``network`` against a hardware profile (a name such as ``loihi2`` or a YAML
    path): timing, precision, resources (core map), support; the manifest beside the file
    is used when present. ``.plot()`` draws the core map."""
    from neurodeploy.hardware.validate import validate_file
    from neurodeploy.app.report.validation import ValidationResult

    return ValidationResult.of(validate_file(network, profile, manifest, activity))


def parity(network: NetworkLike, inputs: Union[Inputs, np.ndarray], *,
           schedule: Optional[FrameSchedule] = None, timeout_s: Optional[float] = None,
           checkpoint: Optional[Union[str, Path, "SpikingNetwork"]] = None) -> "ParityReport":
    """Emulator and Lava, and torch when a training ``checkpoint`` is given (a path, read as
    plain data, never one found beside the file; or a trained SpikingNetwork), on the same
    inputs: per layer, the first step where spikes differ, how many, and voltage divergence."""
    from neurodeploy.app.parity import parity_report

    description = network if isinstance(network, NetxNetwork) else read_netx(network)
    inputs = inputs_for(description, inputs, schedule)
    return parity_report(description, inputs, timeout_s, checkpoint=checkpoint)


def train(config: Union[str, Path], overrides: Optional[dict[str, Any]] = None,
          output: Optional[Union[str, Path]] = None, resume: str = "auto") -> Optional["TrainedRun"]:
    """Train a SLAYER network from a YAML config and export ``model.net`` + manifest
    (``None`` on a torchrun rank other than 0, which trains and writes nothing).
    ``resume``: ``auto`` resumes the run folder's checkpoint only when it is the same run
    (else an error naming the choice), ``fresh`` trains from scratch, ``resume`` continues
    it on another number of processes."""
    from neurodeploy.app.train_export import train_and_export

    return train_and_export(str(config), overrides, None if output is None else str(output), resume=resume)


def export(checkpoint: Union[str, Path], output: Union[str, Path]) -> "Manifest":
    """Export a training checkpoint (``checkpoint.pt``) to a netx file with its manifest."""
    from neurodeploy.app.train_export import export_checkpoint

    return export_checkpoint(str(checkpoint), str(output))
