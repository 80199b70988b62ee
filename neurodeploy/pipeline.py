"""The stages behind the CLI: train + export, simulate, and run (all of them).

Each stage reads the same config format and writes into one run folder: ``model.net``,
``manifest.json``, ``checkpoint.pt``, ``train_curve.png``, ``metrics.json``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import numpy as np

from neurodeploy.atomic import write_json
from neurodeploy.config import DataConfig, ExperimentConfig, load_config, parse_config
from neurodeploy.data import ImageSet, Split, load_split
from neurodeploy.encoding import FrameSchedule
from neurodeploy.errors import NeurodeployError
from neurodeploy.manifest import Manifest

NETWORK_NAME = "model.net"
MANIFEST_NAME = "manifest.json"
PACKAGES = ("neurodeploy", "lava-nc", "lava-dl", "torch", "numpy", "h5py")


@dataclass
class TrainedRun:
    run_dir: Path
    config: ExperimentConfig
    split: Split
    manifest: Manifest
    torch_accuracy: float
    torch_predictions: np.ndarray
    torch_output_steps: np.ndarray
    torch_spikes_per_layer: dict[str, float]
    history: list[dict[str, float]]
    train_s: float
    export_s: float

    @property
    def network_file(self) -> Path:
        return self.run_dir / NETWORK_NAME

    def read_network(self):
        """The exported ``.net`` read back, its input fed the manifest's port (WHC for conv)."""
        from neurodeploy.netxfile import read_netx

        port = tuple(self.manifest.port_shape)
        return read_netx(self.network_file, port if len(port) == 3 else None)


def train_and_export(config_path: str, overrides: Optional[dict[str, Any]] = None,
                     output: Optional[str] = None) -> TrainedRun:
    """Train from the config, export ``model.net`` + ``manifest.json`` + ``train_curve.png``."""
    from neurodeploy.model.network import SpikingNetwork
    from neurodeploy.model.train import evaluate, seed_everything, train
    from neurodeploy.report.plots import train_curve

    config = load_config(config_path, overrides)
    run_dir = Path(output or config.output)
    seed_everything(config.seed)
    split = load_split(config.data, config.seed)
    network = SpikingNetwork(config.model, split.input_shape, split.num_classes)
    schedule = config.encoding.schedule(hops=len(network.named_synapses()))
    plugin = _plasticity_plugin(config, network, schedule)
    _say(f"training {config.name}: {len(split.train)} train / {len(split.test)} test samples, "
         f"{schedule.frame_steps} steps per sample ({schedule.encoding})")
    result = train(network, split.train, split.test, schedule, config, run_dir, plugin)
    for row in result.history[-1:]:
        _say(f"epoch {row['epoch']}: loss {row['train_loss']:.4f}, "
             f"test accuracy {100 * row['test_accuracy']:.2f} %")
    began = time.perf_counter()
    manifest = _export(network, schedule, split, config, run_dir)
    export_s = time.perf_counter() - began
    train_curve(result.history, run_dir / "train_curve.png")
    test = evaluate(network, split.test, schedule, seed=config.seed)
    return TrainedRun(run_dir, config, split, manifest, test.accuracy(split.test.labels),
                      test.predictions, test.output_steps, test.spikes_per_layer, result.history,
                      result.wall_s, export_s)


def _plasticity_plugin(config: ExperimentConfig, network, schedule: FrameSchedule):
    if not config.dassdp.enabled:
        return None
    from neurodeploy.learning.dassdp import DASSDP

    return DASSDP(config.dassdp, network.named_synapses(), epochs=config.train.epochs,
                  frame_steps=schedule.frame_steps)


def _export(network, schedule: FrameSchedule, split: Split, config: ExperimentConfig,
            run_dir: Path) -> Manifest:
    from neurodeploy.model.export import export_netx, port_shape

    export_netx(network, run_dir / NETWORK_NAME)
    manifest = Manifest(
        network_file=NETWORK_NAME, input_shape=split.input_shape, port_shape=port_shape(network),
        layers=network.layer_info(), schedule=schedule, neuron=config.model.neuron.model_dump(),
        dataset=split.description, seed=config.seed, versions=_versions(),
        dassdp=config.dassdp.model_dump() if config.dassdp.enabled else None)
    manifest.save(run_dir / MANIFEST_NAME)
    return manifest


def export_checkpoint(checkpoint: str, output: str) -> Manifest:
    """Rebuild the network of a training checkpoint and export it beside ``output``."""
    import torch

    from neurodeploy.model.network import SpikingNetwork

    path = Path(checkpoint)
    try:
        state = torch.load(path, map_location="cpu")
        config = parse_config(state["config"], source=str(path))
        network = SpikingNetwork(config.model, tuple(state["input_shape"]), state["num_classes"])
        network.load_state_dict(state["model"])
    except FileNotFoundError:
        raise NeurodeployError(f"{path}: checkpoint not found") from None
    except (RuntimeError, KeyError, EOFError, ValueError) as error:
        raise NeurodeployError(f"{path}: not a neurodeploy checkpoint ({error})") from None
    split = load_split(config.data, config.seed)
    schedule = config.encoding.schedule(hops=len(network.named_synapses()))
    out = Path(output)
    manifest = _export(network, schedule, split, config, out.parent)
    if out.name != NETWORK_NAME:
        (out.parent / NETWORK_NAME).replace(out)
        manifest.network_file = out.name
        manifest.save(out.parent / MANIFEST_NAME)
    _say(f"exported {out} and {out.parent / MANIFEST_NAME}")
    return manifest


@dataclass(frozen=True)
class SimulationInputs:
    """What a simulation of a ``.net`` runs on; shared by ``simulate`` and ``parity``."""

    schedule: FrameSchedule
    test: ImageSet
    seed: int
    config: Optional[ExperimentConfig]


def simulation_inputs(network_file: str, config_path: Optional[str],
                      samples: Optional[int]) -> SimulationInputs:
    """The frame schedule and test samples for a ``.net``: the manifest beside it names
    them, a config overrides its data set (and names both when there is no manifest)."""
    from neurodeploy.netxfile import read_netx

    path = Path(network_file)
    description = read_netx(path)
    manifest_path = path.parent / MANIFEST_NAME
    manifest = Manifest.load(manifest_path) if manifest_path.exists() else None
    config = load_config(config_path) if config_path else None
    if manifest is not None:
        schedule, data_config = manifest.schedule, DataConfig.model_validate(
            {k: manifest.dataset[k] for k in ("dataset", "path", "test_fraction") if k in manifest.dataset})
        seed = manifest.seed
    elif config is not None:
        hops = sum(layer.type != "flatten" for layer in description.layers)
        schedule, data_config, seed = config.encoding.schedule(hops), config.data, config.seed
    else:
        raise NeurodeployError(f"{path}: no {MANIFEST_NAME} beside it; pass --config to name "
                               f"the encoding and the data set")
    if config is not None:
        data_config, seed = config.data, config.seed
    test = load_split(data_config, seed).test
    return SimulationInputs(schedule, test.head(samples) if samples else test, seed, config)


def simulate_network(network_file: str, config_path: Optional[str], samples: Optional[int],
                     timeout_s: Optional[float], json_path: Optional[str],
                     backend: str = "lava", exit_threshold: Optional[float] = None) -> dict[str, Any]:
    """Run any ``.net`` over test data named by a config or the manifest beside it, on Lava
    or on the emulator (bit-exact with Lava fixed_pt, batched). With ``exit_threshold`` each
    sample stops on Lava as soon as the early-exit rule fires (its remaining steps are not
    simulated)."""
    from neurodeploy.report.summary import print_simulation

    path = Path(network_file)
    inputs = simulation_inputs(network_file, config_path, samples)
    schedule, test, seed = inputs.schedule, inputs.test, inputs.seed
    if inputs.config is not None:
        timeout_s = timeout_s or inputs.config.simulate.timeout_s
    if exit_threshold is not None and backend != "lava":
        raise NeurodeployError("--exit-threshold runs on Lava only; drop --backend emulator "
                               "(`neurodeploy compare` sweeps thresholds on the emulator)")
    metrics: dict[str, Any] = {"network": str(path), "backend": backend, "samples": len(test)}
    if backend == "emulator":
        from neurodeploy.sim.emulator import emulate

        _say(f"emulating {len(test)} samples x {schedule.frame_steps} steps (bit-exact with Lava fixed_pt)")
        result = emulate(path, test.images, schedule, seed=seed)
        metrics.update({"spikes_per_sample": result.spikes_per_layer, "steps": result.steps})
    elif exit_threshold is not None:
        from neurodeploy.sim.early_exit import simulate_early_exit

        _say(f"simulating {len(test)} samples on Lava (fixed_pt), exiting at margin >= {exit_threshold:g}")
        result = simulate_early_exit(path, test.images, schedule, exit_threshold, timeout_s=timeout_s or 600.0)
        metrics.update({"exit_threshold": exit_threshold, "mean_exit_step": result.mean_exit_step,
                        "frame_steps": schedule.frame_steps, "steps": result.steps_run})
    else:
        from neurodeploy.sim.runner import simulate

        _say(f"simulating {len(test)} samples x {schedule.frame_steps} steps on Lava (fixed_pt)")
        result = simulate(path, test.images, schedule, timeout_s=timeout_s or 600.0)
        metrics.update({"spikes_per_sample": result.spikes_per_layer, "steps": result.steps})
    metrics.update({"accuracy": result.accuracy(test.labels), "wall_s": result.wall_s,
                    "steps_per_s": result.steps_per_second})
    print_simulation(metrics)
    if json_path:
        write_json(json_path, metrics)
    return metrics


def run_all(config_path: str, overrides: Optional[dict[str, Any]] = None,
            output: Optional[str] = None) -> dict[str, Any]:
    """Train, export, simulate on Lava, write ``metrics.json`` and print the summary."""
    from neurodeploy.hardware.deployment import deployment_summary
    from neurodeploy.report.summary import print_run_summary
    from neurodeploy.sim.emulator import emulate
    from neurodeploy.sim.runner import simulate

    trained = train_and_export(config_path, overrides, output)
    config, test = trained.config, trained.split.test
    reports = _validate(trained.network_file, config.hardware)
    count = min(config.simulate.samples or len(test), len(test))
    _say(f"simulating {count} test samples on Lava (Loihi2SimCfg, fixed_pt)")
    lava = simulate(trained.network_file, test.images[:count], trained.manifest.schedule,
                    timeout_s=config.simulate.timeout_s)
    labels = test.labels[:count]
    activity = run_activity(trained, test.images[:count], lava.spikes_per_layer)
    emulated = emulate(trained.network_file, test.images, trained.manifest.schedule, seed=config.seed)
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
        "wall_s": {"train": trained.train_s, "export": trained.export_s, "lava": lava.wall_s,
                   "emulator": emulated.wall_s},
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


def _validate(network_file: Path, profiles: list[str]) -> dict[str, Any]:
    """Validate against each profile before simulating; print one verdict line each."""
    from neurodeploy.hardware.deployment import validate_profiles

    reports = validate_profiles(network_file, profiles)
    for name, report in reports.items():
        _say(f"{report.profile_title}: {report.verdict.upper()} ({report.count('error')} errors, "
             f"{report.count('warning')} warnings, {report.mapping.cores} cores); "
             f"details: neurodeploy validate {network_file} --hw {name}")
    return reports


def run_activity(trained: TrainedRun, images: np.ndarray, layer_spikes: dict[str, float]) -> dict[str, float]:
    """Per-sample synaptic ops, neuron updates and spikes of the Lava run (input included)."""
    from neurodeploy.encoding import encode
    from neurodeploy.hardware.activity import activity_counts

    schedule = trained.manifest.schedule
    input_spikes = float(encode(images, schedule).sum()) / len(images)
    return activity_counts(trained.read_network(), input_spikes, layer_spikes, schedule.frame_steps)


def _versions() -> dict[str, str]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _say(message: str) -> None:
    from neurodeploy.report.console import console

    console.print(message, highlight=False)
