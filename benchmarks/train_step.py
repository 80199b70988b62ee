"""One training step with the fused CUBA neuron against lava-dl's own dynamics, side by side.

For each example network (``examples/digits.yaml``: Dense 64-128-10, 18 steps a sample;
``examples/mnist5k_conv.yaml``: two strided convs, 128, 10, 20 steps), two copies of the
network start from the same weights, one computing its neurons with lava-dl's code
(``slayer``), the other with :mod:`neurodeploy.training.fused_cuba` (``fused``, or ``torch``:
the GPU path, run on the CPU). Each takes the same training steps (batch 32 of the
training split, encoded as the config says, forward + SpikeRate loss + backward + Adam,
as ``neurodeploy train`` does), the two interleaved in a shuffled order so that machine
load hits both alike; the medians are compared. Encoding is done before the clock starts.

After every step the losses and, at the end, every weight must be equal bit for bit; if
not, the script says which and exits 1. Prints one JSON object: per network the median
step of each path, ``ratio`` (new / lava-dl's), the agreement, and the load average
before and after.

Run: ``.venv/bin/python benchmarks/train_step.py [--steps 40] [--networks digits mnist5k_conv]``
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import torch

from neurodeploy.core.config import load_config
from neurodeploy.core.data import load_split
from neurodeploy.core.encoding import encode
from neurodeploy.training.lavadl import slayer
from neurodeploy.training.network import SpikingNetwork
from neurodeploy.core.runtime import thread_count

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NETWORKS = ("digits", "mnist5k_conv")


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


class Trainer:
    """One copy of the network with its optimiser and loss, as ``train`` sets them up."""

    def __init__(self, config, split, dynamics: str) -> None:
        torch.manual_seed(config.seed)
        self.network = SpikingNetwork(config.model, split.input_shape, split.num_classes, dynamics=dynamics)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.train.lr)
        self.loss = slayer.loss.SpikeRate(true_rate=config.train.true_rate, false_rate=config.train.false_rate,
                                          reduction="none")
        self.losses: list[torch.Tensor] = []

    def step(self, spikes: torch.Tensor, labels: torch.Tensor) -> float:
        """One training step; returns its wall time in seconds."""
        began = time.perf_counter()
        output = self.network(spikes).output
        per_sample = self.loss(output, labels).reshape(len(labels), -1).sum(1)
        self.optimizer.zero_grad()
        per_sample.sum().backward()
        self.optimizer.step()
        elapsed = time.perf_counter() - began
        self.losses.append(per_sample.detach())
        return elapsed


def disagreements(reference: Trainer, other: Trainer) -> list[str]:
    """What differs between the two after the same steps: loss steps and weights, by name."""
    found = [f"loss of step {index}" for index, (a, b) in enumerate(zip(reference.losses, other.losses))
             if not torch.equal(a, b)]
    weights = dict(other.network.state_dict())
    found += [name for name, value in reference.network.state_dict().items() if not torch.equal(value, weights[name])]
    return found


def measure(name: str, steps: int, warmup: int, dynamics: str, seed: int) -> dict:
    config = load_config(EXAMPLES / f"{name}.yaml")
    split = load_split(config.data, config.seed)
    trainers = {"slayer": Trainer(config, split, "slayer"), dynamics: Trainer(config, split, dynamics)}
    schedule = config.encoding.schedule(hops=trainers["slayer"].network.hops)
    batch = config.train.batch_size
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(split.train), generator=generator).numpy()
    batches = []
    for index in range(warmup + steps):
        start = (index * batch) % (len(order) - batch + 1)
        rows = order[start:start + batch]
        batches.append((encode(split.train.images[rows], schedule, seed=seed, first=index * batch),
                        torch.as_tensor(split.train.labels[rows])))
    times: dict[str, list[float]] = {path: [] for path in trainers}
    shuffle = random.Random(seed)
    before = load_average()
    for index, (spikes, labels) in enumerate(batches):
        paths = list(trainers)
        shuffle.shuffle(paths)
        for path in paths:
            elapsed = trainers[path].step(spikes, labels)
            if index >= warmup:
                times[path].append(elapsed)
    median_ms = {path: 1e3 * statistics.median(values) for path, values in times.items()}
    differ = disagreements(trainers["slayer"], trainers[dynamics])
    return {"network": name, "time_steps": schedule.frame_steps, "batch": batch,
            "timed_steps": steps, "median_step_ms": {path: round(value, 3) for path, value in median_ms.items()},
            "ratio": round(median_ms[dynamics] / median_ms["slayer"], 4),
            "speedup": round(median_ms["slayer"] / median_ms[dynamics], 2),
            "weights_and_losses_equal": not differ, "differ": differ[:10],
            "load_average_before": before, "load_average_after": load_average()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per path and network")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per path first")
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    parser.add_argument("--dynamics", choices=("fused", "torch"), default="fused",
                        help="the path compared with lava-dl's (torch: the GPU path, here on the CPU)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(thread_count())  # the project's policy: 1 unless NEURODEPLOY_THREADS says
    rows = [measure(name, args.steps, args.warmup, args.dynamics, args.seed) for name in args.networks]
    result = {"benchmark": "train_step", "compared": [args.dynamics, "slayer"],
              "torch_threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
              "target_ratio_at_most": 0.4, "networks": rows}
    print(json.dumps(result, indent=2))
    failed = [row["network"] for row in rows if not row["weights_and_losses_equal"]]
    if failed:
        print(f"train_step: {args.dynamics} and lava-dl's dynamics disagree on {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
