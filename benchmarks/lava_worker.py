"""What it costs to run the Lava backend in a worker process (``NEURODEPLOY_LAVA_PYTHON``).

The same network and spikes run ``--repeats`` times each, in rotation, in this process
(:func:`run_on_lava`, after one warm-up run: Lava and netx already imported) and through
the worker (:func:`run_in_worker`: a fresh interpreter every call, which is what each
call costs a core install); then one-sample runs both ways, whose difference is the
worker's fixed cost per call, and the parts of it: a bare interpreter start and the
worker's imports. Prints JSON with min / median wall seconds, ``uptime``, and whether the
worker's output counts equal the in-process ones. Where Lava is not importable here (the
core install), only the worker is timed.

Run (Lava leg, the worker on the same python):
    .venv/bin/python benchmarks/lava_worker.py
From the core install (Python 3.11+), the worker in the Lava venv:
    NEURODEPLOY_LAVA_PYTHON=.venv/bin/python python3.11 benchmarks/lava_worker.py
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

#: What the worker imports before it runs (the runner, netx, Lava's run config).
WORKER_IMPORTS = ("from neurodeploy.backends.lavasim import runner, worker; "
                  "from neurodeploy.training.lavadl import netx; "
                  "from lava.magma.core.run_configs import Loihi2SimCfg")


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", default=str(Path(__file__).resolve().parents[1] / "tests/fixtures/slayer/digits_like.net"))
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=20, help="Steps per sample (random spikes).")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--python", default=os.environ.get("NEURODEPLOY_LAVA_PYTHON", sys.executable),
                        help="The worker's python (default: $NEURODEPLOY_LAVA_PYTHON, else this one).")
    args = parser.parse_args(argv)

    from neurodeploy.backends.lavasim.worker import run_in_worker
    from neurodeploy.core.inputs import SpikeInput
    from neurodeploy.core.netxfile import read_netx

    network = read_netx(args.net)
    shape = tuple(reversed(network.input_shape))  # netx's WHC as CHW
    spikes = SpikeInput(np.random.default_rng(0).random((args.samples, args.steps, *shape)) < 0.2)
    one = spikes.head(1)
    runs: dict[str, Callable[[], Any]] = {"worker": lambda: run_in_worker(args.python, network, spikes),
                                          "worker_one_sample": lambda: run_in_worker(args.python, network, one)}
    lava_here = importlib.util.find_spec("lava") is not None
    if lava_here:
        from neurodeploy.backends.lavasim.runner import run_on_lava

        runs["in_process"] = lambda: run_on_lava(network, spikes)
        runs["in_process_one_sample"] = lambda: run_on_lava(network, one)
        run_on_lava(network, one)  # warm-up: Lava's and netx's imports, once per process
    wall: dict[str, list[float]] = {name: [] for name in runs}
    lava_s: dict[str, list[float]] = {name: [] for name in runs}
    counts: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            began = time.perf_counter()
            result = run()
            wall[name].append(time.perf_counter() - began)
            lava_s[name].append(result.wall_s)
            counts[name] = result.output_counts
    starts = {"bare_interpreter": [args.python, "-c", "pass"], "worker_imports": [args.python, "-c", WORKER_IMPORTS]}
    start_s: dict[str, list[float]] = {name: [] for name in starts}
    for _ in range(args.repeats):
        for name, command in starts.items():
            began = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            start_s[name].append(time.perf_counter() - began)

    def summary(values: list[float]) -> dict[str, float]:
        return {"min": min(values), "median": statistics.median(values)}

    report: dict[str, Any] = {
        "benchmark": "lava_worker", "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "python_here": f"{sys.executable} (Python {sys.version.split()[0]}, numpy {np.__version__})",
        "python_worker": args.python, "net": args.net, "samples": args.samples, "steps": args.steps,
        "repeats": args.repeats,
        "wall_s": {name: summary(values) for name, values in wall.items()},
        "lava_run_s": {name: summary(values) for name, values in lava_s.items()},
        "start_s": {name: summary(values) for name, values in start_s.items()},
    }
    if lava_here:
        report["worker_fixed_cost_s"] = min(wall["worker_one_sample"]) - min(wall["in_process_one_sample"])
        report["worker_over_in_process"] = min(wall["worker"]) / min(wall["in_process"])
        report["identical_counts"] = bool(np.array_equal(counts["worker"], counts["in_process"]))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
