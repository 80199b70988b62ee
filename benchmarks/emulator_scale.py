"""Emulator throughput on a CIFAR-sized conv network against the machine's GEMM rate.

Builds an untrained SLAYER network with the project's own model code (3x32x32 input,
strided convs 32c3s1 - 64c3s2 - 64c3s2, flatten, dense 256 - 10; uniform made-up weights) and
exports it with ``export_netx`` (checked against netx), makes up uint8 images, emulates
them (default batch: the emulator's own choice, ``--batch`` to force one) and prints one
JSON object: samples/s, peak resident memory, and the share of the machine's measured
one-thread float32 GEMM rate (a 1024^3 ``torch.mm``, FLOP = 2 x MAC) that the emulator
reaches counted on (a) the MACs a dense evaluation needs (every synapse every step) and
(b) the MACs an event-driven one needs (each input spike times its fan-out, from the
spike counts of the run), plus, with ``--lava-samples``, Lava's rate on the first few
samples and whether it counted the same output spikes.
Run: .venv/bin/python benchmarks/emulator_scale.py [--samples 256 --lava-samples 1]
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
    from neurodeploy.core.encoding import FrameSchedule

CONV = [{"channels": 32, "kernel": 3, "stride": 1, "padding": 1},
        {"channels": 64, "kernel": 3, "stride": 2, "padding": 1},
        {"channels": 64, "kernel": 3, "stride": 2, "padding": 1}]
HIDDEN = [256]
INPUT_SHAPE = (3, 32, 32)
CLASSES = 10


def build(path: Path, seed: int = 0) -> None:
    """Export the made-up CIFAR-sized network to ``path``."""
    import torch

    from neurodeploy.core.config import ModelConfig
    from neurodeploy.training.export import export_netx
    from neurodeploy.training.network import SpikingNetwork

    torch.manual_seed(seed)
    network = SpikingNetwork(ModelConfig(conv=CONV, hidden=HIDDEN), INPUT_SHAPE, CLASSES)
    with torch.no_grad():  # untrained wide layers would quantise to all-zero weights
        for block in network.named_synapses().values():
            block.synapse.weight.uniform_(-1, 1)
    export_netx(network, path)


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--batch", type=int, default=None, help="samples per batch (default: the emulator's)")
    parser.add_argument("--lava-samples", type=int, default=0,
                        help="also run this many of the samples on Lava (slow: scipy convolutions)")
    args = parser.parse_args(argv)

    import torch

    from neurodeploy.core.encoding import FrameSchedule, encode_steps
    from neurodeploy.core.netxfile import read_netx
    from neurodeploy.backends.emulator.engine import emulate

    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cifar_like.net"
        build(path)
        network = read_netx(path)
        schedule = FrameSchedule(gap=network.hops)
        images = np.random.default_rng(0).integers(0, 256, size=(args.samples, *INPUT_SHAPE), dtype=np.uint8)
        emulate(network, images[:2], schedule, batch_size=args.batch)  # compiled kernels, layer cache
        began = time.perf_counter()
        result = emulate(network, images, schedule, batch_size=args.batch)
        wall_s = time.perf_counter() - began
        input_spikes = float(encode_steps(images, schedule).sum()) / args.samples
        macs = _macs(network, result.spikes_per_layer, input_spikes, schedule.frame_steps)
        gemm = _gemm_flops()
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
        "spikes_per_sample": {"input": input_spikes, **result.spikes_per_layer},
        "gemm_float32_1_thread_gflops": gemm / 1e9,
        "macs_per_sample": macs,
        "share_of_gemm_rate": {kind: 2 * count * args.samples / wall_s / gemm for kind, count in macs.items()},
        "peak_rss_gib": peak_gib,
        "lava": lava,
        "load_average_1min": os.getloadavg()[0],
    }
    print(json.dumps(report, indent=2))
    return report


def _gemm_flops(size: int = 1024, repeats: int = 5) -> float:
    """The best float32 FLOP/s of one-thread ``torch.mm`` on ``size``-square matrices."""
    import torch

    a, b = torch.rand(size, size), torch.rand(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - began)
    return 2 * size ** 3 / best


def _macs(network, spikes: dict, input_spikes: float, frame_steps: int) -> dict:
    """Per sample: ``dense`` = every synapse every step; ``event_driven`` = each spike into
    a layer times the synapses it drives (a layer's dense MACs per step over its inputs)."""
    dense = event = 0.0
    previous = input_spikes
    for layer in network.layers:
        if not layer.is_synaptic:
            continue
        inputs = int(np.prod(layer.input_shape)) if layer.input_shape else layer.fan_in
        per_step = layer.n_synapses
        dense += per_step * frame_steps
        event += previous * per_step / inputs
        previous = spikes[layer.name]
    return {"dense": dense, "event_driven": event}


def _lava(path: Path, images: np.ndarray, schedule: "FrameSchedule", emulated_counts: np.ndarray) -> dict:
    """Lava's rate on the first samples, and whether it counted the same output spikes."""
    from neurodeploy.backends.lavasim.runner import run_on_lava as simulate

    began = time.perf_counter()
    lava = simulate(path, images, schedule, timeout_s=3600)
    wall_s = time.perf_counter() - began
    return {"samples": len(images), "wall_s": wall_s, "samples_per_s": len(images) / wall_s,
            "identical_output_counts": bool(np.array_equal(lava.output_counts, emulated_counts[:len(images)]))}


if __name__ == "__main__":
    main()
