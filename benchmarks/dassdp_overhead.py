"""What DA-SSDP adds to one training step: time and memory, measured side by side.

A digits-sized SLAYER CUBA network (Dense 64-128-10, 18 steps a sample, batch 32, the
project's digits encoding) takes training steps without the rule, with it on the
classifier (the reference's choice), and with it on both layers. The three variants
share nothing but the input batch; their steps are interleaved in a shuffled order so
that machine load hits all alike, and the medians are compared. The rule is past
warm-up (the dearer phase: it updates weights). Prints one JSON object.

Memory: ``kept_bytes`` is what the rule holds between forward and ``after_step`` (the
first-spike latencies), against ``spike_log_bytes``, the float spike tensors a
spike-time log would keep; ``transient_bytes`` is the largest temporary the rule
allocates (the latency scan, or the update's gathered table columns and one-hot post
latencies), freed at once.

Run: ``.venv/bin/python benchmarks/dassdp_overhead.py [--steps 300]``.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time

import torch

from neurodeploy.config import DassdpConfig, DataConfig, NeuronConfig
from neurodeploy.data import load_split
from neurodeploy.encoding import FrameSchedule, encode
from neurodeploy.lavadl import slayer
from neurodeploy.learning.dassdp import DASSDP
from neurodeploy.runtime import thread_count

SCHEDULE = FrameSchedule(encoding="temporal_bit", temporal_steps=8, n_bits=8, gap=2)
BATCH, WIDTHS = 32, (64, 128, 10)
VARIANTS = {"baseline": [], "classifier": ["dense1"], "all_layers": ["dense0", "dense1"]}


class Trainer:
    """One network, its optimiser and (optionally) DA-SSDP on the given layers."""

    def __init__(self, plastic: list[str], seed: int) -> None:
        torch.manual_seed(seed)
        neuron = NeuronConfig().model_dump()
        self.blocks = torch.nn.ModuleDict({
            f"dense{index}": slayer.block.cuba.Dense(neuron, inputs, outputs)
            for index, (inputs, outputs) in enumerate(zip(WIDTHS, WIDTHS[1:]))})
        self.optimizer = torch.optim.Adam(self.blocks.parameters(), lr=1e-3)
        self.loss = slayer.loss.SpikeRate(true_rate=0.2, false_rate=0.03, reduction="none")
        config = DassdpConfig(enabled=True, layers=plastic, warmup_epochs=0)
        self.plugin = DASSDP(config, self.blocks, epochs=2,
                             frame_steps=SCHEDULE.frame_steps) if plastic else None
        self.kept_bytes = 0

    def step(self, spikes: torch.Tensor, labels: torch.Tensor) -> float:
        """One training step; returns its wall time in seconds."""
        began = time.perf_counter()
        layer_spikes = [spikes]
        for block in self.blocks.values():
            layer_spikes.append(block(layer_spikes[-1]))
        per_sample = self.loss(layer_spikes[-1], labels).reshape(len(labels), -1).sum(1)
        self.optimizer.zero_grad()
        per_sample.sum().backward()
        self.optimizer.step()
        if self.plugin is not None:
            for index, name in enumerate(self.blocks):
                if name in self.plugin.layers:
                    self.plugin.observe(name, layer_spikes[index].detach(),
                                        layer_spikes[index + 1].detach())
            self.kept_bytes = self.plugin.kept_bytes()
            self.plugin.after_step(1, per_sample.detach())
        return time.perf_counter() - began


def spike_log_bytes(plastic: list[str]) -> int:
    """Bytes of the float32 pre and post spike tensors of the plastic layers."""
    index = {f"dense{i}": i for i in range(len(WIDTHS) - 1)}
    return sum(4 * BATCH * SCHEDULE.frame_steps * (WIDTHS[index[name]] + WIDTHS[index[name] + 1])
               for name in plastic)


def transient_bytes(plastic: list[str]) -> int:
    """Largest temporary: the int32 latency scan of a spike tensor, or one layer's update
    (float32 table columns for the pre neurons plus one-hot latencies of the post ones)."""
    index = {f"dense{i}": i for i in range(len(WIDTHS) - 1)}
    pairs = [(WIDTHS[index[name]], WIDTHS[index[name] + 1]) for name in plastic]
    scan = max(4 * BATCH * SCHEDULE.frame_steps * max(pair) for pair in pairs)
    update = max(4 * BATCH * (SCHEDULE.frame_steps + 1) * sum(pair) for pair in pairs)
    return max(scan, update)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per variant")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(thread_count())  # the project's policy: 1 unless NEURODEPLOY_THREADS says
    train = load_split(DataConfig(dataset="digits"), args.seed).train
    spikes = encode(train.images[:BATCH], SCHEDULE).flatten(1, -2)
    labels = torch.as_tensor(train.labels[:BATCH])
    trainers = {name: Trainer(plastic, args.seed) for name, plastic in VARIANTS.items()}
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    order = random.Random(args.seed)
    for repetition in range(args.warmup + args.steps):
        names = list(VARIANTS)
        order.shuffle(names)
        for name in names:
            elapsed = trainers[name].step(spikes, labels)
            if repetition >= args.warmup:
                times[name].append(elapsed)

    median_ms = {name: 1e3 * statistics.median(values) for name, values in times.items()}
    result = {
        "benchmark": "dassdp_overhead",
        "network": "slayer cuba Dense 64-128-10", "time_steps": SCHEDULE.frame_steps,
        "batch": BATCH, "timed_steps_per_variant": args.steps,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "median_step_ms": {name: round(value, 3) for name, value in median_ms.items()},
        "ratio": {name: round(median_ms[name] / median_ms["baseline"], 4)
                  for name in VARIANTS if name != "baseline"},
        "overhead_percent": {name: round(100 * (median_ms[name] / median_ms["baseline"] - 1), 2)
                             for name in VARIANTS if name != "baseline"},
        "target_overhead_percent": 10,
        "kept_bytes_per_step": {name: trainers[name].kept_bytes for name in VARIANTS
                                if name != "baseline"},
        "spike_log_bytes_per_step": {name: spike_log_bytes(plastic)
                                     for name, plastic in VARIANTS.items() if plastic},
        "transient_bytes_per_step": {name: transient_bytes(plastic)
                                     for name, plastic in VARIANTS.items() if plastic},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
