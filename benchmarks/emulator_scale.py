"""Emulator throughput on a CIFAR-sized conv network at batch 256, and its peak memory.

Builds an untrained SLAYER network with the project's own model code (3x32x32 input,
strided convs 32c3s1 - 64c3s2 - 64c3s2, flatten, dense 256 - 10; uniform made-up weights) and
exports it with ``export_netx`` (checked against netx), makes up uint8 images, emulates
them at ``--batch`` and prints one JSON object: samples/s, steps/s, peak resident memory
(and, with ``--lava-samples``, Lava's rate on the first few samples for comparison).
Run: .venv/bin/python benchmarks/emulator_scale.py [--samples 1024 --batch 256 --lava-samples 1]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

if TYPE_CHECKING:
    from neurodeploy.encoding import FrameSchedule

CONV = [{"channels": 32, "kernel": 3, "stride": 1, "padding": 1},
        {"channels": 64, "kernel": 3, "stride": 2, "padding": 1},
        {"channels": 64, "kernel": 3, "stride": 2, "padding": 1}]
HIDDEN = [256]
INPUT_SHAPE = (3, 32, 32)
CLASSES = 10


def build(path: Path, seed: int = 0) -> None:
    """Export the made-up CIFAR-sized network to ``path``."""
    import torch

    from neurodeploy.config import ModelConfig
    from neurodeploy.model.export import export_netx
    from neurodeploy.model.network import SpikingNetwork

    torch.manual_seed(seed)
    network = SpikingNetwork(ModelConfig(conv=CONV, hidden=HIDDEN), INPUT_SHAPE, CLASSES)
    with torch.no_grad():  # untrained wide layers would quantise to all-zero weights
        for block in network.named_synapses().values():
            block.synapse.weight.uniform_(-1, 1)
    export_netx(network, path)


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lava-samples", type=int, default=0,
                        help="also run this many of the samples on Lava (slow: scipy convolutions)")
    args = parser.parse_args(argv)

    from neurodeploy.encoding import FrameSchedule
    from neurodeploy.sim.emulator import emulate

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cifar_like.net"
        build(path)
        hops = len(CONV) + len(HIDDEN) + 1
        schedule = FrameSchedule(gap=hops)
        images = np.random.default_rng(0).integers(0, 256, size=(args.samples, *INPUT_SHAPE), dtype=np.uint8)
        began = time.perf_counter()
        result = emulate(path, images, schedule, batch_size=args.batch)
        wall_s = time.perf_counter() - began
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
        lava = _lava(path, images[:args.lava_samples], schedule, result.output_counts) if args.lava_samples else None
    report = {
        "network": f"{INPUT_SHAPE} -> conv {[c['channels'] for c in CONV]} -> dense {HIDDEN + [CLASSES]}",
        "samples": args.samples,
        "batch": args.batch,
        "frame_steps": schedule.frame_steps,
        "wall_s": wall_s,
        "samples_per_s": args.samples / wall_s,
        "lava_equivalent_steps_per_s": result.steps / wall_s,
        "spikes_per_sample": result.spikes_per_layer,
        "peak_rss_gib": peak_gib,
        "lava": lava,
        "load_average_1min": os.getloadavg()[0],
    }
    print(json.dumps(report, indent=2))
    return report


def _lava(path: Path, images: np.ndarray, schedule: "FrameSchedule", emulated_counts: np.ndarray) -> dict:
    """Lava's rate on the first samples, and whether it counted the same output spikes."""
    from neurodeploy.sim.runner import simulate

    began = time.perf_counter()
    lava = simulate(path, images, schedule, timeout_s=3600)
    wall_s = time.perf_counter() - began
    return {"samples": len(images), "wall_s": wall_s, "samples_per_s": len(images) / wall_s,
            "identical_output_counts": bool(np.array_equal(lava.output_counts, emulated_counts[:len(images)]))}


if __name__ == "__main__":
    main()
