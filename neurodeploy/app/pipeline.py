"""The stages behind the CLI: simulate a ``.net`` and run (train, export, simulate, report);
training and export themselves are :mod:`.train_export`.

Each stage reads the same config format and writes into one run folder: ``model.net``,
``manifest.json``, ``checkpoint.pt``, ``train_curve.png``, ``metrics.json``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from neurodeploy.backends import backend as backend_named
from neurodeploy.core.atomic import check_output, write_json
from neurodeploy.core.config import ExperimentConfig, load_config
from neurodeploy.core.data import load_split
from neurodeploy.core.errors import NeurodeployError
from neurodeploy.core.inputs import ImageInput, Inputs
from neurodeploy.core.manifest import MANIFEST_NAME, Manifest, manifest_path_for
from neurodeploy.core.progress import say as _say
from neurodeploy.app.report.output import check_json_target, emit
from neurodeploy.app.train_export import train_and_export
from neurodeploy.core.results import SimulationResult

if TYPE_CHECKING:
    from neurodeploy.core.netxfile import NetxNetwork

@dataclass(frozen=True)
class InputRequest:
    """How the user asked to feed a ``.net``: a data set (config or manifest) through the
    encoder, or arrays from files. ``reset_interval`` 0 means no reset, ``None`` one per frame."""

    config: Optional[str] = None
    spikes: Optional[str] = None
    bias: Optional[str] = None
    labels: Optional[str] = None
    layout: str = "chw"
    steps: Optional[int] = None
    samples: Optional[int] = None
    reset_interval: Optional[int] = None


def simulation_inputs(network: "NetxNetwork", request: InputRequest) -> tuple[Inputs, Optional[ExperimentConfig]]:
    """The inputs for a ``.net``: arrays from ``--spikes``/``--bias`` files, else the test
    split and frame schedule named by a config or by the manifest beside the file."""
    from neurodeploy.core.inputs import load_bias, load_labels, load_spikes

    if request.spikes and request.bias:
        raise NeurodeployError("--spikes and --bias: give one of them")
    config = load_config(request.config) if request.config else None
    if request.spikes or request.bias:
        if request.bias and request.steps is None:
            raise NeurodeployError("--bias needs --steps: how many steps each sample's bias is held")
        inputs = (load_spikes(request.spikes, request.layout, request.steps) if request.spikes
                  else load_bias(request.bias, request.steps, request.layout))
        if request.labels:
            from dataclasses import replace

            inputs = replace(inputs, labels=load_labels(request.labels, inputs.samples))
        return inputs.head(request.samples), config
    manifest_path = manifest_path_for(network.path)
    manifest = Manifest.beside(network.path)
    if config is not None:
        hops = network.hops
        schedule, data_config, seed = config.encoding.schedule(hops), config.data, config.seed
        if manifest is not None:
            schedule = manifest.schedule
    elif manifest is not None:
        schedule, data_config, seed = manifest.schedule, manifest.data_config(manifest_path), manifest.seed
    else:
        raise NeurodeployError(f"{network.path}: no {MANIFEST_NAME} beside it; pass --spikes FILE "
                               f"(or --bias FILE --steps T), or --config to name the encoding and data set")
    if request.steps is not None and request.steps != schedule.frame_steps:
        raise NeurodeployError(f"--steps {request.steps}: the frame schedule of these images takes "
                               f"{schedule.frame_steps} steps; drop --steps")
    test = load_split(data_config, seed).test
    inputs = ImageInput(test.images, schedule, seed, test.labels)
    return inputs.head(request.samples), config


def simulate_network(network_file: str, request: InputRequest, timeout_s: Optional[float] = None,
                     json_path: Optional[str] = None, backend: str = "lava",
                     exit_threshold: Optional[float] = None,
                     save_output: Optional[str] = None, ray: Optional[str] = None,
                     device: str = "cpu") -> SimulationResult:
    """Run any ``.net`` on Lava or on the emulator (bit-exact with Lava fixed_pt, batched)
    over the inputs the request names; print the metrics (accuracy only with labels),
    write them as JSON, and every output spike to ``save_output`` (``.npz``). With
    ``exit_threshold`` each sample stops on Lava as soon as the early-exit rule fires.
    ``ray`` (an address or ``local``) runs shards of the samples as Ray tasks."""
    from neurodeploy.app.api import simulate
    from neurodeploy.core.netxfile import read_netx
    from neurodeploy.app.report.summary import print_simulation

    from neurodeploy.core.inputs import check_drive

    _check_outputs(json_path, save_output)
    network = read_netx(network_file)
    inputs, config = simulation_inputs(network, request)
    check_drive(network, inputs)
    if timeout_s is None and config is not None:
        timeout_s = config.simulate.timeout_s
    reset = request.reset_interval != 0
    _say(f"simulating {inputs.samples} samples x {inputs.frame_steps} steps ({inputs.kind}) on "
         f"{backend_named(backend).title}")
    if ray is not None:
        result = _simulate_on_ray(ray, network, inputs, exit_threshold, backend=backend, timeout_s=timeout_s,
                                  reset=reset, reset_interval=request.reset_interval or None,
                                  keep_output=save_output is not None, device=device)
    else:
        result = simulate(network, inputs, backend=backend, timeout_s=timeout_s, reset=reset,
                          reset_interval=request.reset_interval or None, exit_threshold=exit_threshold,
                          keep_output=save_output is not None, device=device)
    metrics = {"network": str(network.path), "input": inputs.kind, **result.metrics(inputs.labels)}
    emit(json_path, metrics, lambda: print_simulation(metrics))
    if save_output:
        _save_output(save_output, result)
    return result


def _simulate_on_ray(address: str, network: "NetxNetwork", inputs: Inputs, exit_threshold: Optional[float],
                     **options: Any) -> SimulationResult:
    """``nd.simulate`` with ``options`` as Ray tasks over shards of the samples, merged in order."""
    from functools import partial

    from neurodeploy.app.api import simulate
    from neurodeploy.app.ray_tasks import ray_session, simulate_sharded

    if exit_threshold is not None:
        raise NeurodeployError("--exit-threshold steps one Lava run sample by sample; drop --ray")
    with ray_session(address):
        result = simulate_sharded(partial(simulate, network, **options), network, inputs,
                                  reset=options["reset"], reset_interval=options["reset_interval"])
    _say(f"ran as {result.extra['ray_tasks']} Ray tasks ({address})")
    return result


def parity_on_ray(address: str, network: "NetxNetwork", inputs: Inputs, timeout_s: Optional[float],
                  checkpoint: Any = None):
    """``nd.parity`` as Ray tasks over shards of the samples, one report over all of them.
    A rate code draws each sample's spikes from (seed, its index in the whole set), so the
    shards see the spikes one run sees and the report is bit for bit one run's.
    ``checkpoint``: as ``nd.parity`` takes it; a path is read once, here, not by every task."""
    from functools import partial

    from neurodeploy.app.api import parity
    from neurodeploy.app.ray_tasks import ray_session, run_tasks, shards_for
    from neurodeploy.app.parity import concatenate_reports

    if checkpoint is not None:
        from neurodeploy.training.checkpoint import trained_network

        checkpoint = trained_network(checkpoint)
    with ray_session(address):
        parts = shards_for(network, inputs)
        task = partial(parity, network, timeout_s=timeout_s, checkpoint=checkpoint)
        return concatenate_reports(run_tasks(task, [(p,) for p in parts]))


def _check_outputs(json_path: Optional[str], save_output: Optional[str]) -> None:
    """The files ``simulate`` will write can be written, checked before it runs."""
    if save_output and Path(save_output).suffix != ".npz":
        raise NeurodeployError(f"--save-output {save_output}: expected a .npz file name")
    check_json_target(json_path, "metrics JSON")
    if save_output:
        check_output(save_output, "output spikes file")


def _save_output(path: str, result: SimulationResult) -> None:
    """Every output spike of the decode window and the counts, as ``.npz``."""
    from neurodeploy.core.atomic import atomic_path

    target = Path(path)
    with atomic_path(target) as temporary:
        with open(temporary, "wb") as stream:
            np.savez_compressed(stream, output_spikes=result.output_spikes, output_counts=result.output_counts)
    _say(f"wrote {target} (output_spikes {tuple(result.output_spikes.shape)}, output_counts)")


def run_all(config_path: str, overrides: Optional[dict[str, Any]] = None,
            output: Optional[str] = None, resume: str = "auto") -> dict[str, Any]:
    """Train, export, simulate on Lava, write ``metrics.json`` and print the summary."""
    from neurodeploy.hardware.deployment import deployment_summary
    from neurodeploy.app.report.summary import print_run_summary
    from neurodeploy.backends.emulator.engine import emulate
    from neurodeploy.backends.lavasim.runner import run_on_lava

    trained = train_and_export(config_path, overrides, output, resume=resume)
    if trained is None:  # a torchrun rank other than 0: it trained, rank 0 goes on alone
        return {}
    config, test = trained.config, trained.split.test
    network = trained.read_network()
    reports = _validate(network, config.hardware)
    count = min(config.simulate.samples or len(test), len(test))
    _say(f"simulating {count} test samples on Lava (Loihi2SimCfg, fixed_pt)")
    inputs = ImageInput(test.images, trained.manifest.schedule, config.seed, test.labels)  # torch's rate spikes too
    lava = run_on_lava(network, inputs.head(count), timeout_s=config.simulate.timeout_s)
    labels = test.labels[:count]
    activity = run_activity(network, inputs.head(count), lava.spikes_per_layer)
    emulated = emulate(network, inputs)
    metrics = {
        "name": config.name,
        "torch_test_accuracy": trained.torch_accuracy,
        "torch_accuracy_on_simulated": float(np.mean(trained.torch_predictions[:count] == labels)),
        "lava_accuracy": lava.accuracy(labels),
        "prediction_agreement": float(np.mean(trained.torch_predictions[:count] == lava.predictions)),
        "simulated_samples": count,
        "test_samples": len(test),
        "emulator_accuracy": emulated.accuracy(test.labels),
        "emulator_lava_agreement": float(np.mean(emulated.predictions[:count] == lava.predictions)),
        "spikes_per_sample": {"torch": trained.torch_spikes_per_layer, "lava": lava.spikes_per_layer},
        "trained_epochs": trained.trained_epochs,
        "wall_s": {"train": trained.train_s, "export": trained.export_s, "lava": lava.wall_s,
                   "emulator": emulated.wall_s, "emulator_compile": emulated.extra["compile_s"]},
        "lava_steps_per_s": lava.steps_per_second,
        "activity": activity,
        "hardware": {name: deployment_summary(report, activity) for name, report in reports.items()},
        "schedule": trained.manifest.schedule.to_dict(),
        "history": trained.history,
        "versions": trained.manifest.versions,
    }
    write_json(trained.run_dir / "metrics.json", metrics)
    print_run_summary(metrics, trained.run_dir)
    return metrics


def _validate(network: "NetxNetwork", profiles: list[str]) -> dict[str, Any]:
    """Validate against each profile before simulating; print one verdict line each."""
    from neurodeploy.hardware.deployment import validate_profiles

    reports = validate_profiles(network, profiles)
    for name, report in reports.items():
        _say(f"{report.profile_title}: {report.verdict.upper()} ({report.count('error')} errors, "
             f"{report.count('warning')} warnings, {report.mapping.cores} cores); "
             f"details: neurodeploy validate {network.path} --hw {name}")
    return reports


def run_activity(network: "NetxNetwork", inputs: ImageInput, layer_spikes: dict[str, float]) -> dict[str, float]:
    """Per-sample synaptic ops, neuron updates and spikes of a Lava run on ``inputs`` (input included)."""
    from neurodeploy.hardware.activity import activity_counts

    input_spikes = float(inputs.spikes().sum()) / inputs.samples
    return activity_counts(network, input_spikes, layer_spikes, inputs.frame_steps)
