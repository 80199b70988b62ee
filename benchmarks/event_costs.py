"""The emulator's two CPU paths per layer, timed side by side, against the cost model that
chooses between them (``neurodeploy.backends.emulator.events.COSTS_NS``).

For each layer of the digits and conv digits exports (``--net``, repeatable) and of the
CIFAR-sized conv net of ``benchmarks/emulator_scale.py``, on the same input spikes: the
event loop and the product + neuron loop (min of ``--repeats``), the cost model's estimate
of each, the path it picks and whether that is the faster one, and each path's time per
output value and per addition (what the constants are read from). One thread.

Run: .venv/bin/python benchmarks/event_costs.py --net runs/digits/model.net --net runs/conv_digits/model.net
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np


def _best(run: Callable[[], Any], repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def layer_rows(path: Path, images: np.ndarray, schedule: Any, repeats: int) -> list[dict[str, Any]]:
    """Both paths on every layer of one network, each fed the spikes the layer before made."""
    from unittest.mock import patch

    import neurodeploy as nd
    from neurodeploy.core.blocks import NetworkTiming
    from neurodeploy.backends.emulator import engine as emulator, events
    from neurodeploy.backends.emulator.layers import ConvSynapse
    from neurodeploy.backends.emulator.events import Events

    network = nd.load_network(path)
    inputs = nd.ImageInput(images, schedule)
    layers = emulator.emulated_layers(network, inputs, NetworkTiming.of(network, inputs.frame_steps))
    resets = [step == 0 for step in range(inputs.frame_steps)]
    spikes = Events.of_images(images, schedule)
    rows = []
    for layer in layers:
        dense = spikes.dense().float()
        event_s = _best(lambda: events.run(layer, spikes, resets, False), repeats)
        with patch.object(events, "worth_it", lambda *args: False):
            product_s = _best(lambda: emulator._run_layer(layer, dense, resets, None, False), repeats)
        steps, outputs = spikes.batch * spikes.steps, int(np.prod(layer.shape))
        picked = events.worth_it(layer, spikes.count, steps)
        rows.append({"network": str(path), "layer": layer.name, "kind": "conv" if isinstance(layer.synapse, ConvSynapse)
                     else "dense", "input_density": spikes.count / (steps * int(np.prod(layer.input_shape))),
                     "events_ms": event_s * 1e3, "product_ms": product_s * 1e3, "picks_events": picked,
                     "picked_the_faster": picked == (event_s < product_s),
                     "events_ns_per_output": event_s * 1e9 / (steps * outputs),
                     "product_ns_per_output": product_s * 1e9 / (steps * outputs)})
        spikes = events.run(layer, spikes, resets, False)[2]
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", action="append", default=[], help="a trained .net with its manifest (repeatable)")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import torch

    import neurodeploy as nd
    from neurodeploy.core.encoding import FrameSchedule
    from neurodeploy.app.pipeline import InputRequest, simulation_inputs
    from neurodeploy.backends.emulator.events import COSTS_NS

    torch.set_num_threads(1)
    rows = []
    for net in args.net:
        inputs, _ = simulation_inputs(nd.load_network(net), InputRequest(samples=args.samples))
        rows += layer_rows(Path(net), inputs.images, inputs.schedule, args.repeats)
    sys.path.insert(0, str(Path(__file__).parent))
    import emulator_scale

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cifar_like.net"
        emulator_scale.build(path)
        images = np.random.default_rng(0).integers(0, 256, size=(8, *emulator_scale.INPUT_SHAPE), dtype=np.uint8)
        schedule = FrameSchedule(gap=len(emulator_scale.CONV) + len(emulator_scale.HIDDEN) + 1)
        rows += layer_rows(path, images, schedule, max(2, args.repeats // 2))
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(json.dumps({"benchmark": "event_costs", "uptime": uptime, "costs_ns": COSTS_NS, "layers": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
