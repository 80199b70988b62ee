"""How the emulator's batch size and a dense product's operand order change its speed.

Two measurements behind constants in :mod:`neurodeploy.backends.emulator.engine` and
:mod:`neurodeploy.backends.emulator.layers`, interleaved repeats, min and median kept:

- ``batch``: the emulator on each ``--net`` (its manifest's test split) at several batch
  sizes and at the default (``BATCH_ELEMENTS``: the widest layer's input + drive per batch);
- ``gemm``: float32 ``x @ W`` against ``(W.T @ x.T).T`` for the shapes a batch of 128
  samples x 18 steps meets (``NARROW``: outputs below which the second is used).

Run: .venv/bin/python benchmarks/emulator_batch.py --net runs/digits/model.net --net runs/conv_digits/model.net
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from typing import Any, Callable, Optional

SIZES = (8, 32, 64, 128, 256, 512)
SHAPES = ((2304, 64, 128), (2304, 128, 10), (2304, 256, 128), (2304, 128, 64), (2304, 256, 10), (2304, 1024, 256))


def _best(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict[str, float]]:
    times: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()
    for _ in range(repeats):
        for name, run in runs.items():
            began = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - began)
    return {name: {"min_ms": 1e3 * min(values), "median_ms": 1e3 * statistics.median(values)}
            for name, values in times.items()}


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", action="append", default=[], help="a trained .net with its manifest")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    import torch

    import neurodeploy as nd
    from neurodeploy.app.pipeline import InputRequest, simulation_inputs
    from neurodeploy.backends.emulator import engine as emulator

    torch.set_num_threads(1)
    batch = {}
    for path in args.net:
        network = nd.load_network(path)
        inputs, _ = simulation_inputs(network, InputRequest())
        runs = {str(size): (lambda size=size: emulator.emulate(network, inputs, batch_size=size)) for size in SIZES}
        runs["default"] = lambda: emulator.emulate(network, inputs)
        batch[path] = _best(runs, args.repeats)
    generator = torch.Generator().manual_seed(0)
    gemm = {}
    for rows, fan_in, fan_out in SHAPES:
        spikes = (torch.rand((rows, fan_in), generator=generator) < 0.1).float()
        weight = torch.randint(-30, 31, (fan_in, fan_out), generator=generator).float()
        gemm[f"{rows}x{fan_in}->{fan_out}"] = _best({"x@W": lambda: spikes @ weight,
                                                    "(W.T@x.T).T": lambda: (weight.T @ spikes.T).T},
                                                   args.repeats)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(json.dumps({"benchmark": "emulator_batch", "uptime": uptime, "threads": 1,
                      "batch_elements": emulator.BATCH_ELEMENTS, "batch": batch, "gemm": gemm}, indent=2))


if __name__ == "__main__":
    main()
