"""What DA-SSDP adds to one training step: time and memory, measured side by side.

A digits-sized SLAYER CUBA network (Dense 64-128-10, 18 steps a sample, batch 32, the
project's digits encoding) takes training steps without the rule, with it on the
classifier (the reference's choice), and with it on every dense layer (both). The
rule's cost is relative to the step it rides on, so each variant runs on each base path
named by ``--dynamics`` (the CUBA neuron's computation, :mod:`neurodeploy.training.fused_cuba`:
``fused``, the default that training uses, and ``slayer``, lava-dl's own). All variants
share nothing but the input batch; their steps are interleaved in a shuffled order so
that machine load hits all alike, and the medians are compared within each base path.
The rule is past warm-up (the dearer phase: it updates weights). Prints one JSON object
and a line per base path with the overhead against the 10 % target.

Memory: ``kept_bytes`` is what the rule holds between forward and ``after_step`` (the
first-spike latencies), against ``spike_log_bytes``, the float spike tensors a
spike-time log would keep; ``transient_bytes`` is the largest temporary the rule
allocates on the CPU (one layer's gathered table block and its float32 sum before it is
added to the weights), freed at once.

Run: ``.venv/bin/python benchmarks/dassdp_overhead.py [--steps 300] [--dynamics fused slayer]``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time

import torch

from neurodeploy.core.config import DassdpConfig, DataConfig, NeuronConfig
from neurodeploy.core.data import load_split
from neurodeploy.core.encoding import FrameSchedule, encode
from neurodeploy.training.lavadl import slayer
from neurodeploy.training.dassdp import DASSDP
from neurodeploy.training.fused_cuba import DYNAMICS, use_dynamics
from neurodeploy.core.runtime import thread_count

SCHEDULE = FrameSchedule(encoding="temporal_bit", temporal_steps=8, n_bits=8, gap=2)
BATCH, WIDTHS = 32, (64, 128, 10)
VARIANTS = {"baseline": [], "classifier": ["dense1"], "all_layers": ["dense0", "dense1"]}
TARGET_PERCENT = 10


class Trainer:
    """One network, its optimiser and (optionally) DA-SSDP on the given layers."""

    def __init__(self, plastic: list[str], seed: int, dynamics: str) -> None:
        torch.manual_seed(seed)
        neuron = NeuronConfig().dump()
        self.blocks = torch.nn.ModuleDict({
            f"dense{index}": slayer.block.cuba.Dense(neuron, inputs, outputs)
            for index, (inputs, outputs) in enumerate(zip(WIDTHS, WIDTHS[1:]))})
        self.dynamics = use_dynamics(self.blocks, dynamics)
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
    """Largest temporary of the compiled update (``dassdp_kernels.batch_update``): the
    float32 table block gathered for the narrower side, the layer's sum and, when the
    post side is the narrower, its transposed accumulator."""
    index = {f"dense{i}": i for i in range(len(WIDTHS) - 1)}
    pairs = [(WIDTHS[index[name]], WIDTHS[index[name] + 1]) for name in plastic]
    return max(4 * ((SCHEDULE.frame_steps + 1) * min(pair) + (1 + (pair[1] < pair[0])) * pair[0] * pair[1])
               for pair in pairs)


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per variant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dynamics", nargs="+", choices=DYNAMICS, default=["fused", "slayer"],
                        help="base paths: how the CUBA neurons are computed")
    args = parser.parse_args()

    torch.set_num_threads(thread_count())  # the project's policy: 1 unless NEURODEPLOY_THREADS says
    train = load_split(DataConfig(dataset="digits"), args.seed).train
    spikes = encode(train.images[:BATCH], SCHEDULE).flatten(1, -2)
    labels = torch.as_tensor(train.labels[:BATCH])
    runs = [(path, variant) for path in args.dynamics for variant in VARIANTS]
    trainers = {run: Trainer(VARIANTS[run[1]], args.seed, run[0]) for run in runs}
    times: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    order = random.Random(args.seed)
    load_before = load_average()
    for repetition in range(args.warmup + args.steps):
        order.shuffle(runs)
        for run in runs:
            elapsed = trainers[run].step(spikes, labels)
            if repetition >= args.warmup:
                times[run].append(elapsed)

    median_ms = {run: 1e3 * statistics.median(values) for run, values in times.items()}
    per_path = {}
    for path in args.dynamics:
        base = median_ms[(path, "baseline")]
        plastic = [name for name in VARIANTS if name != "baseline"]
        per_path[path] = {
            "path_in_use": trainers[(path, "baseline")].dynamics,
            "median_step_ms": {name: round(median_ms[(path, name)], 3) for name in VARIANTS},
            "ratio": {name: round(median_ms[(path, name)] / base, 4) for name in plastic},
            "overhead_percent": {name: round(100 * (median_ms[(path, name)] / base - 1), 2) for name in plastic},
        }
    result = {
        "benchmark": "dassdp_overhead",
        "network": "slayer cuba Dense 64-128-10", "time_steps": SCHEDULE.frame_steps,
        "batch": BATCH, "timed_steps_per_variant": args.steps,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "load_average_before": load_before, "load_average_after": load_average(),
        "base_paths": per_path,
        "target_overhead_percent": TARGET_PERCENT,
        "kept_bytes_per_step": {name: trainers[(args.dynamics[0], name)].kept_bytes
                                for name in VARIANTS if name != "baseline"},
        "spike_log_bytes_per_step": {name: spike_log_bytes(plastic)
                                     for name, plastic in VARIANTS.items() if plastic},
        "transient_bytes_per_step": {name: transient_bytes(plastic)
                                     for name, plastic in VARIANTS.items() if plastic},
    }
    print(json.dumps(result, indent=2))
    for path, numbers in per_path.items():
        overhead = numbers["overhead_percent"]["all_layers"]
        print(f"DA-SSDP on every dense layer, base path {numbers['path_in_use']}: "
              f"{numbers['median_step_ms']['baseline']:.2f} ms -> {numbers['median_step_ms']['all_layers']:.2f} ms "
              f"a step, {overhead:+.1f} % ({'within' if overhead <= TARGET_PERCENT else 'over'} the "
              f"{TARGET_PERCENT} % target; classifier only {numbers['overhead_percent']['classifier']:+.1f} %)")


if __name__ == "__main__":
    main()
