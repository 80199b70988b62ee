"""Surrogate-gradient training of a SpikingNetwork, with checkpoints and resume.

Images are encoded batch by batch (an encoded CIFAR train split would not fit in memory),
the loss is lava-dl's ``SpikeRate``, and predictions use :func:`predict_from_counts`, the
same rule the Lava runner and the emulator decode with.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

import numpy as np
import torch
from neurodeploy.training.lavadl import slayer

from neurodeploy.core.atomic import atomic_path
from neurodeploy.core.config import ExperimentConfig
from neurodeploy.core.data import ImageSet
from neurodeploy.core.decision import predict_from_counts
from neurodeploy.training.ddp import World, all_sum
from neurodeploy.core.encoding import FrameSchedule, encode
from neurodeploy.core.errors import ConfigError, OutputError, first_line
from neurodeploy.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from neurodeploy.training.network import SpikingNetwork
from neurodeploy.core.progress import progress, say
from neurodeploy.training.resume import Saved, identity, resume_from, resume_line, write_sidecar
from neurodeploy.core.runtime import resolve_device



class PlasticityPlugin(Protocol):
    """What the loop needs of a local learning rule (DA-SSDP) riding on backprop."""

    layers: list[str]

    def observe(self, name: str, pre_spikes: torch.Tensor, post_spikes: torch.Tensor) -> None: ...
    def after_step(self, epoch: int, loss_per_sample: torch.Tensor) -> None: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class TrainResult:
    """The whole history (resumed epochs included); ``wall_s`` is this run's training time,
    over the epochs after ``start_epoch``."""

    history: list[dict[str, float]] = field(default_factory=list)
    wall_s: float = 0.0
    start_epoch: int = 0

    @property
    def test_accuracy(self) -> float:
        return self.history[-1]["test_accuracy"] if self.history else float("nan")


@dataclass(frozen=True)
class Evaluation:
    """Output spikes per step ``(N, T, classes)``, predictions and mean spikes per sample per layer."""

    predictions: np.ndarray
    output_steps: np.ndarray
    spikes_per_layer: dict[str, float]

    @property
    def output_counts(self) -> np.ndarray:
        return self.output_steps.sum(axis=1, dtype=np.int64)

    def accuracy(self, labels: np.ndarray) -> float:
        return float(np.mean(self.predictions == labels))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(network: SpikingNetwork, train_set: ImageSet, test_set: ImageSet,
          schedule: FrameSchedule, config: ExperimentConfig, run_dir: Path,
          plugin: Optional[PlasticityPlugin] = None, resume: str = "auto") -> TrainResult:
    """Train for ``config.train.epochs``, checkpointing each epoch and resuming from one as
    :func:`neurodeploy.training.resume.resume_from` decides (``resume``: auto, resume or fresh).

    Inside a torch.distributed group (torchrun) each rank trains a DDP replica on its part
    of every global batch and only rank 0 writes the checkpoint (:mod:`neurodeploy.training.ddp`)."""
    device = resolve_device(config.train.device, option="train.device")
    world = World.current(device)
    ranks, rank = (world.size, world.rank) if world is not None else (1, 0)
    device = world.device if world is not None else device
    network.to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.train.lr)
    loss_fn = slayer.loss.SpikeRate(true_rate=config.train.true_rate,
                                    false_rate=config.train.false_rate, reduction="none")
    result, start_epoch = TrainResult(), 0
    checkpoint = run_dir / CHECKPOINT_NAME
    state = load_checkpoint(checkpoint) if rank == 0 and checkpoint.exists() else None  # runs no code from it
    if world is not None:  # rank 0's checkpoint, so every rank resumes from the same state
        state = world.broadcast(state)
    start_epoch = resume_from(checkpoint, None if state is None else Saved.of_state(state), config, ranks, resume)
    if start_epoch:
        _resume(state, checkpoint, network, optimizer, result, config, plugin)
        result.wall_s, result.start_epoch = 0.0, start_epoch  # this run's time; each epoch's is in the history
        if rank == 0:
            say(resume_line(checkpoint, start_epoch, config.train.epochs))
    model, batch_size = network, config.train.batch_size
    if world is not None:
        batch_size = world.local_batch_size(batch_size)
        model = world.wrap(network, encode(train_set.images[:1], schedule))
    shuffle = torch.Generator().manual_seed(config.seed)
    for _ in range(start_epoch):  # replay the shuffles of finished epochs
        torch.randperm(len(train_set), generator=shuffle)
    began = time.perf_counter()
    for epoch in range(start_epoch, config.train.epochs):
        order = torch.randperm(len(train_set), generator=shuffle).numpy()
        if world is not None:
            order = world.local_order(order)
        epoch_seed = (config.seed * 1000 + epoch) * ranks + rank  # fresh rate spikes each epoch and rank
        network.train()
        total_loss, correct = 0.0, 0
        batches = range(0, len(order), batch_size)
        epoch_began = time.perf_counter()
        with progress(f"epoch {epoch + 1}/{config.train.epochs}", len(batches), "batches") as advance:
            for start in batches:
                index = order[start:start + batch_size]
                spikes = encode(train_set.images[index], schedule, seed=epoch_seed, first=start).to(device)
                labels = torch.as_tensor(train_set.labels[index], device=device)
                forward = model(spikes)
                per_sample = loss_fn(forward.output, labels).reshape(len(index), -1).sum(1)
                optimizer.zero_grad()
                (per_sample.sum() * ranks).backward()  # DDP averages over ranks: x ranks is the global sum
                optimizer.step()
                if plugin is not None:
                    _feed_plugin(plugin, network, spikes, forward.layer_spikes)
                    plugin.after_step(epoch, per_sample.detach())
                total_loss += float(per_sample.sum())
                correct += int((predict_from_counts(forward.output.detach().sum(-1)) == train_set.labels[index]).sum())
                advance()
        test = evaluate(network, test_set, schedule, config.train.batch_size * 4, config.seed)
        loss_sum, correct_sum, seen = all_sum(torch.tensor([total_loss, correct, len(order)], dtype=torch.float64)).tolist()
        row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_accuracy": correct_sum / seen,
               "test_accuracy": test.accuracy(test_set.labels), "wall_s": time.perf_counter() - epoch_began}
        result.history.append(row)
        result.wall_s = time.perf_counter() - began
        if rank == 0:
            _save_checkpoint(checkpoint, network, optimizer, result, config, plugin, epoch + 1, ranks)
            say(epoch_line(row, config.train.epochs))
    return result


def epoch_line(row: dict[str, float], epochs: int) -> str:
    """One epoch of the history as the line training prints (and keeps) after it."""
    line = (f"epoch {row['epoch']}/{epochs}: loss {row['train_loss']:.4f}, train accuracy "
            f"{100 * row['train_accuracy']:.2f} %, test accuracy {100 * row['test_accuracy']:.2f} %")
    return line + (f", {row['wall_s']:.1f} s" if "wall_s" in row else "")


def _feed_plugin(plugin: PlasticityPlugin, network: SpikingNetwork, spikes: torch.Tensor,
                 layer_spikes: list[torch.Tensor]) -> None:
    inputs = [spikes.flatten(1, -2), *layer_spikes[:-1]]
    for name, pre, post in zip(network.layer_names, inputs, layer_spikes):
        if name in plugin.layers:
            plugin.observe(name, pre.detach().flatten(1, -2), post.detach().flatten(1, -2))


@torch.no_grad()
def evaluate(network: SpikingNetwork, data: ImageSet, schedule: FrameSchedule,
             batch_size: int = 128, seed: int = 0) -> Evaluation:
    """Run ``data`` through the torch model; the same decision rule as the Lava runner."""
    network.eval()
    device = next(network.parameters()).device
    outputs, layer_totals = [], np.zeros(len(network.blocks))
    for start in range(0, len(data), batch_size):
        spikes = encode(data.images[start:start + batch_size], schedule, seed=seed, first=start).to(device)
        forward = network(spikes)
        outputs.append(forward.output.transpose(1, 2).to(torch.uint8).cpu())
        layer_totals += [float(layer.sum()) for layer in forward.layer_spikes]
    output_steps = torch.cat(outputs).numpy()
    per_layer = {name: total / len(data) for name, total in zip(network.layer_names, layer_totals)
                 if not name.startswith("flatten")}
    return Evaluation(predict_from_counts(output_steps.sum(axis=1, dtype=np.int64)), output_steps, per_layer)


def _save_checkpoint(path: Path, network: SpikingNetwork, optimizer: torch.optim.Optimizer,
                     result: TrainResult, config: ExperimentConfig,
                     plugin: Optional[PlasticityPlugin], epoch: int, world_size: int) -> None:
    """The checkpoint, then the JSON beside it that ``check`` reads (:mod:`neurodeploy.training.resume`)."""
    saved = Saved(epoch, identity(config), world_size)
    state = {"epoch": epoch, "model": network.state_dict(), "optimizer": optimizer.state_dict(),
             "history": result.history, "identity": saved.identity, "world_size": world_size,
             "config": config.dump(),
             "input_shape": network.input_shape, "num_classes": network.num_classes,
             "plugin": plugin.state_dict() if plugin is not None else None}
    with atomic_path(path) as temporary:
        try:
            torch.save(state, temporary)
        except RuntimeError as error:  # a full disk: torch's writer says "file write failed"
            reason = str(error).strip().splitlines()[-1][:160]
            raise OutputError(f"{path}: cannot write the checkpoint ({reason})") from None
    write_sidecar(path, saved)


def _resume(state: dict[str, Any], path: Path, network: SpikingNetwork, optimizer: torch.optim.Optimizer,
            result: TrainResult, config: ExperimentConfig,
            plugin: Optional[PlasticityPlugin]) -> int:
    try:
        network.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if plugin is not None and state.get("plugin") is not None:
            plugin.load_state_dict(state["plugin"])
        result.history.extend(list(state["history"]))
        result.wall_s = float(state.get("wall_s", 0.0))
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as error:
        raise ConfigError(f"{path}: cannot resume from this checkpoint ({type(error).__name__}: "
                          f"{first_line(error, 120)}); remove it or choose "
                          f"another output folder") from None
    return state["epoch"]
