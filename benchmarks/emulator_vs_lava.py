"""Samples per second of the emulator and of Lava fixed_pt on the same samples, in one run.

Trains the digits network (``examples/digits.yaml``, 64-128-10) into a temporary folder,
or takes ``--net`` (test data from the manifest beside it), runs its test samples once
through the Lava runner and ``--repeats`` times through the emulator (median kept), checks
that both return the same output counts, and prints one JSON object with both rates and
their ratio (wall times around each call; ``ratio_lava_run_only`` leaves out building the
netx processes, Lava's ``run_s`` is compile + run).
Run: .venv/bin/python benchmarks/emulator_vs_lava.py [--net runs/digits/model.net]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Optional

import numpy as np


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", help="a .net with its manifest.json (default: train examples/digits.yaml)")
    parser.add_argument("--samples", type=int, help="test samples (default: the whole test split)")
    parser.add_argument("--repeats", type=int, default=5, help="emulator runs; the median is kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the emulator")
    args = parser.parse_args(argv)

    from neurodeploy.pipeline import simulation_inputs, train_and_export
    from neurodeploy.sim.emulator import emulate
    from neurodeploy.sim.runner import simulate

    with tempfile.TemporaryDirectory() as folder:
        network = args.net or str(train_and_export("examples/digits.yaml", output=folder).network_file)
        inputs = simulation_inputs(network, None, args.samples)
        images, schedule = inputs.test.images, inputs.schedule
        began = time.perf_counter()
        lava = simulate(network, images, schedule, timeout_s=3600)
        lava_s = time.perf_counter() - began
        emulator_runs = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            emulated = emulate(network, images, schedule, threads=args.threads)
            emulator_runs.append(time.perf_counter() - began)
    emulator_s = statistics.median(emulator_runs)
    samples = len(images)
    result = {
        "network": network if args.net else "examples/digits.yaml (trained for this run)",
        "samples": samples,
        "frame_steps": schedule.frame_steps,
        "lava": {"wall_s": lava_s, "samples_per_s": samples / lava_s, "run_s": lava.wall_s},
        "emulator": {"wall_s": emulator_s, "samples_per_s": samples / emulator_s,
                     "runs_s": emulator_runs, "threads": args.threads},
        "ratio": lava_s / emulator_s,
        "ratio_lava_run_only": lava.wall_s / emulator_s,
        "identical_output_counts": bool(np.array_equal(lava.output_counts, emulated.output_counts)),
        "load_average_1min": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
