"""The training stage: train a SLAYER network from a config, export it to netx with its
manifest, in one run folder (``model.net``, ``manifest.json``, ``checkpoint.pt``,
``train_curve.png``); and export of a checkpoint on its own.

Apart from :mod:`.pipeline` (which simulates and runs everything) so that the public API
and the pipeline both stand on it, and neither on the other.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from neurodeploy.core.atomic import check_output
from neurodeploy.core.config import ExperimentConfig
from neurodeploy.core.data import ImageSet, Split, load_split
from neurodeploy.core.encoding import FrameSchedule
from neurodeploy.core.manifest import MANIFEST_NAME, Manifest, package_versions
from neurodeploy.core.progress import say as _say

if TYPE_CHECKING:
    from neurodeploy.core.netxfile import NetxNetwork

NETWORK_NAME = "model.net"
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
    validation: Optional[ImageSet] = None  # carved from the training images, not trained on
    trained_epochs: int = 0  # by this run (train_s is their time); the others came from the checkpoint
    _network: Optional["NetxNetwork"] = field(default=None, repr=False)

    @property
    def network_file(self) -> Path:
        return self.run_dir / NETWORK_NAME

    def read_network(self) -> "NetxNetwork":
        """The exported ``.net``, its input fed the manifest's port (WHC for conv); read
        once, then every stage of the run takes this object."""
        if self._network is None:
            from neurodeploy.core.netxfile import read_netx

            port = tuple(self.manifest.port_shape)
            self._network = read_netx(self.network_file, port if len(port) == 3 else None)
        return self._network


def train_and_export(config_path: str, overrides: Optional[dict[str, Any]] = None,
                     output: Optional[str] = None, validation_fraction: float = 0.0,
                     resume: str = "auto") -> Optional[TrainedRun]:
    """Train from the config, export ``model.net`` + ``manifest.json`` + ``train_curve.png``.

    ``validation_fraction > 0`` holds that share of the training images out of training
    (``TrainedRun.validation``), for choices that must not look at the test split.
    ``resume``: ``auto`` (the run folder's checkpoint when it is the same run), ``resume``
    or ``fresh`` (:mod:`neurodeploy.training.resume`)."""
    from neurodeploy.app.preflight import preflight

    checked = preflight(config_path, overrides, output, resume)  # before torch: a mistake costs a second
    from neurodeploy.training.network import SpikingNetwork
    from neurodeploy.training.ddp import process_group
    from neurodeploy.training.train import evaluate, seed_everything, train
    from neurodeploy.core.runtime import resolve_device
    from neurodeploy.app.report.plots import describe_network, train_curve
    from neurodeploy.core.runtime import threads

    config, run_dir = checked.config, checked.run_dir
    seed_everything(config.seed)
    split, validation = checked.split, None
    if validation_fraction:
        split, validation = split.hold_out(validation_fraction, config.seed)
    network = SpikingNetwork(config.model, split.input_shape, split.num_classes)
    schedule = _schedule(config, network)
    plugin = _plasticity_plugin(config, network, schedule)
    _say(f"training {config.name}: {len(split.train)} train / {len(split.test)} test samples, "
         f"{schedule.frame_steps} steps per sample ({schedule.encoding})")
    # torchrun: one DDP rank per process; torch threads as neurodeploy.core.runtime says (one by default)
    with process_group(resolve_device(config.train.device, option="train.device")) as world, threads():
        result = train(network, split.train, split.test, schedule, config, run_dir, plugin, resume)
    if world is not None and not world.is_main:
        return None  # the other ranks train; rank 0 alone exports and reports
    began = time.perf_counter()
    manifest, description = _export(network, schedule, split, config, run_dir)
    export_s = time.perf_counter() - began
    train_curve(result.history, run_dir / "train_curve.png",
                f"{config.name}: {config.data.dataset} ({len(split.train)} training images), "
                f"{describe_network(config)}, seed {config.seed}")
    with threads():
        test = evaluate(network, split.test, schedule, seed=config.seed)
    return TrainedRun(run_dir, config, split, manifest, test.accuracy(split.test.labels),
                      test.predictions, test.output_steps, test.spikes_per_layer, result.history,
                      result.wall_s, export_s, validation, trained_epochs=config.train.epochs - result.start_epoch,
                      _network=description)


def _schedule(config: ExperimentConfig, network) -> FrameSchedule:
    """The frame schedule of a SLAYER network: its default gap is the network's hops (the
    count netx's blocks give once exported)."""
    return config.encoding.schedule(hops=network.hops)


def _plasticity_plugin(config: ExperimentConfig, network, schedule: FrameSchedule):
    if not config.dassdp.enabled:
        return None
    from neurodeploy.training.dassdp import DASSDP

    return DASSDP(config.dassdp, network.named_synapses(), epochs=config.train.epochs,
                  frame_steps=schedule.frame_steps)


def _export(network, schedule: FrameSchedule, split: Split, config: ExperimentConfig,
            run_dir: Path, network_name: str = NETWORK_NAME,
            manifest_name: str = MANIFEST_NAME) -> tuple[Manifest, "NetxNetwork"]:
    """Write ``network_name`` and the manifest that describes it into ``run_dir``; other
    files there (a run's own ``model.net`` and manifest) are left as they are."""
    from neurodeploy.training.export import export_netx, port_shape
    from neurodeploy.core.netxfile import read_netx

    export_netx(network, run_dir / network_name)
    port = port_shape(network)
    description = read_netx(run_dir / network_name, port if len(port) == 3 else None)
    manifest = Manifest(
        network_file=network_name, input_shape=split.input_shape, port_shape=port,
        layers=network.layer_info(), schedule=schedule, neuron=config.model.neuron.dump(),
        dataset=split.description, seed=config.seed, versions=package_versions(PACKAGES),
        dassdp=config.dassdp.dump() if config.dassdp.enabled else None,
        data=config.data.dump(), hops=description.hops)
    manifest.save(run_dir / manifest_name)
    return manifest, description


def export_checkpoint(checkpoint: str, output: str) -> Manifest:
    """Rebuild the network of a training checkpoint (read as plain data: no code in it
    runs) and export it beside ``output``; both outputs are checked before any work."""
    from neurodeploy.training.checkpoint import checkpoint_network

    check_output(output, "exported network")
    check_output(_export_manifest_path(Path(output)), "manifest")
    network, config = checkpoint_network(checkpoint)
    split = load_split(config.data, config.seed)
    schedule = _schedule(config, network)
    out = Path(output)
    manifest_name = _export_manifest_path(out).name
    manifest, _ = _export(network, schedule, split, config, out.parent, out.name, manifest_name)
    _say(f"exported {out} and {out.parent / manifest_name}")
    return manifest


def _export_manifest_path(network_file: Path) -> Path:
    """Where ``export`` writes the manifest of ``network_file``: the folder's own for
    ``model.net``, ``<stem>.manifest.json`` for any other name."""
    return network_file.with_name(MANIFEST_NAME if network_file.name == NETWORK_NAME
                                  else f"{network_file.stem}.manifest.json")
