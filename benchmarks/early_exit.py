"""Early exit on Lava against the back-to-back runner, in wall time, on the same samples.

Runs ``--samples`` test samples of ``--net`` (its manifest's split and schedule) through
the Lava runner (whole frames, reset built in) and through
:func:`neurodeploy.backends.lavasim.early_exit.simulate_early_exit` at ``--threshold``, alternating
``--repeats`` times; prints wall times (build + compile + run for both), Lava steps,
accuracy, the ratio early exit / runner (<= 1: early exit is no slower) and whether, at a
threshold no sample reaches, early exit gives the runner's output counts.

Run: .venv/bin/python benchmarks/early_exit.py --net runs/digits/model.net [--samples 100]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from typing import Optional

import numpy as np


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", required=True)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--threshold", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    import neurodeploy as nd
    from neurodeploy.app.pipeline import InputRequest, simulation_inputs
    from neurodeploy.backends.lavasim.early_exit import simulate_early_exit

    network = nd.load_network(args.net)
    inputs, _ = simulation_inputs(network, InputRequest(samples=args.samples))
    few = inputs.head(2)  # imports and first compiles, outside the timing
    nd.simulate(network, few, backend="lava")
    simulate_early_exit(network, few.images, few.schedule, args.threshold)
    times: dict[str, list[float]] = {"runner": [], "early_exit": []}
    for _ in range(args.repeats):
        began = time.perf_counter()
        lava = nd.simulate(network, inputs, backend="lava")
        times["runner"].append(time.perf_counter() - began)
        began = time.perf_counter()
        run = simulate_early_exit(network, inputs.images, inputs.schedule, args.threshold)
        times["early_exit"].append(time.perf_counter() - began)
    never = simulate_early_exit(network, inputs.images, inputs.schedule, 1e9)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    best = {name: min(values) for name, values in times.items()}
    print(json.dumps({
        "benchmark": "early_exit", "network": args.net, "samples": inputs.samples, "uptime": uptime,
        "threshold": args.threshold, "wall_s": times,
        "runner": {"steps": lava.steps, "accuracy": lava.accuracy(inputs.labels)},
        "early_exit": {"steps": run.steps_run, "accuracy": run.accuracy(inputs.labels),
                       "mean_exit_step": run.mean_exit_step},
        "ratio_early_exit_over_runner": {"min": best["early_exit"] / best["runner"],
                                         "median": statistics.median(times["early_exit"])
                                         / statistics.median(times["runner"])},
        "unreached_threshold_gives_runner_counts": bool(np.array_equal(never.output_counts, lava.output_counts)),
    }, indent=2))


if __name__ == "__main__":
    main()
