"""The emulator against SLAYER's own forward pass and against Lava fixed_pt, side by side.

For each ``--net`` (a trained export with its ``manifest.json`` and ``checkpoint.pt``
beside it; ``neurodeploy train examples/digits.yaml -o runs/digits``, likewise
``examples/conv_digits.yaml``), on the same test samples in one process:

- the emulator (``nd.simulate(net, inputs, backend="emulator")``: encoding included, the
  network read once before the timing, as the API is used);
- lava-dl SLAYER's batched forward of the trained network (``torch.no_grad``, the whole
  test split as one batch, encoding included), what one would otherwise use for fast
  evaluation; it is not bit-exact with Lava, so its prediction agreement is printed;
- Lava ``Loihi2SimCfg(select_tag="fixed_pt")`` through the project's runner (build,
  compile and run), ``--lava-repeats`` times.

Repeats are interleaved (emulator, SLAYER, in alternating order, then Lava) so machine
load hits all alike; min and median of each are kept and the ratios are min/min and
median/median. Every emulator run's output counts must equal Lava's (``identical``); the
script exits 1 when they do not. Torch runs on ``--threads`` threads for both torch sides.
Prints one JSON object with the load average beside it (ratios, not absolute times, are
what holds on a shared machine).

Run: .venv/bin/python benchmarks/emulator_vs_lava.py --net runs/digits/model.net --net runs/conv_digits/model.net
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = run()
    return time.perf_counter() - began, value


def _summary(times: list[float], samples: int) -> dict[str, float]:
    return {"min_s": min(times), "median_s": statistics.median(times),
            "samples_per_s_best": samples / min(times), "runs": len(times)}


def compare(path: str, samples: Optional[int], repeats: int, lava_repeats: int) -> dict[str, Any]:
    """One network: the three backends on the same samples."""
    import torch

    import neurodeploy as nd
    from neurodeploy.core.decision import predict_from_counts
    from neurodeploy.core.encoding import encode
    from neurodeploy.app.pipeline import InputRequest, simulation_inputs
    from neurodeploy.training.checkpoint import CHECKPOINT_NAME, checkpoint_network

    network = nd.load_network(path)
    inputs, _ = simulation_inputs(network, InputRequest(samples=samples))
    slayer, _ = checkpoint_network(Path(path).parent / CHECKPOINT_NAME)

    def emulator() -> Any:
        return nd.simulate(network, inputs, backend="emulator")

    def forward() -> np.ndarray:
        with torch.no_grad():
            output = slayer(encode(inputs.images, inputs.schedule, seed=inputs.seed, first=inputs.first)).output
        return predict_from_counts(output.sum(-1))

    emulated, predictions = emulator(), forward()  # warm: compiled kernels, caches
    times: dict[str, list[float]] = {"emulator": [], "slayer": [], "lava": []}
    outputs = []
    for repeat in range(repeats):
        order = [("emulator", emulator), ("slayer", forward)]
        for name, run in order if repeat % 2 == 0 else order[::-1]:
            elapsed, value = _timed(run)
            times[name].append(elapsed)
            if name == "emulator":
                outputs.append(value.output_counts)
    lava = None
    for _ in range(lava_repeats):
        elapsed, lava = _timed(lambda: nd.simulate(network, inputs, backend="lava"))
        times["lava"].append(elapsed)
    count = inputs.samples
    report: dict[str, Any] = {name: _summary(values, count) for name, values in times.items() if values}
    report.update({
        "network": path, "samples": count, "frame_steps": inputs.frame_steps,
        "ratio_vs_slayer": {"min": min(times["slayer"]) / min(times["emulator"]),
                            "median": statistics.median(times["slayer"]) / statistics.median(times["emulator"])},
        "slayer_prediction_agreement": float(np.mean(predictions == emulated.predictions)),
    })
    if lava is not None:
        report["ratio_vs_lava"] = {"min": min(times["lava"]) / min(times["emulator"]),
                                   "median": statistics.median(times["lava"]) / statistics.median(times["emulator"])}
        report["identical_to_lava"] = all(np.array_equal(lava.output_counts, out) for out in outputs)
        report["lava_accuracy"] = lava.accuracy(inputs.labels) if inputs.labels is not None else None
    return report


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", action="append", required=True, help="a trained .net (repeatable)")
    parser.add_argument("--samples", type=int, help="test samples (default: the whole test split)")
    parser.add_argument("--repeats", type=int, default=11, help="interleaved emulator/SLAYER runs")
    parser.add_argument("--lava-repeats", type=int, default=1, help="Lava runs (0: skip Lava)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for SLAYER and the emulator")
    args = parser.parse_args(argv)

    import torch

    os.environ["NEURODEPLOY_THREADS"] = str(args.threads)
    torch.set_num_threads(args.threads)
    results = [compare(path, args.samples, args.repeats, args.lava_repeats) for path in args.net]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(json.dumps({"benchmark": "emulator_vs_lava", "threads": args.threads, "cpus": os.cpu_count(),
                      "uptime": uptime, "networks": results}, indent=2))
    return 0 if all(result.get("identical_to_lava", True) for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
