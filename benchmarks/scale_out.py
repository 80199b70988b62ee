"""Speed-up of 2 Ray workers over 1 on this machine: the emulator on a large batch, and a
``compare`` grid.

For each worker count N in (1, 2): a local Ray with ``num_cpus=N`` (restarted between
the two, outside the timing), every worker warmed up first (imports, numba compilation),
then, timed:

- the emulator: ``--copies`` copies of the digits test split (144,000 samples) (``--net``, with its
  manifest) sharded into N tasks (``simulate_sharded``), checked bit-identical with the
  single-process run;
- a ``compare`` grid: ``--encodings`` x ``--seeds`` runs of a small digits config, each run
  a task (``compare_encodings(..., ray="local")``), in a fresh folder each time (no resume).

The ratio is time(1 worker) / time(2 workers), measured in one run of this script; the
load average before and after says how much else the machine was doing.

Run: .venv/bin/python benchmarks/scale_out.py --net runs/digits/model.net
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import yaml

GRID_CONFIG = {"name": "grid", "seed": 0, "data": {"dataset": "digits", "limit": 600},
               "model": {"hidden": [32]}, "train": {"epochs": 3, "device": "cpu"}}


def _warm(network, inputs) -> None:
    """In one worker: import what the tasks import and compile the emulator's kernels, then
    hold the worker a moment so that N warm-up tasks land on N workers."""
    import neurodeploy.app.compare  # noqa: F401  (training, lava-dl, the report)
    from neurodeploy.app.api import simulate

    simulate(network, inputs, backend="emulator")
    time.sleep(2)


def _warm_up(workers: int, network, inputs) -> None:
    from neurodeploy.app.ray_tasks import run_tasks

    run_tasks(_warm, [(network, inputs.head(64))] * workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", default="runs/digits/model.net")
    parser.add_argument("--copies", type=int, default=400, help="copies of the test split in the large batch")
    parser.add_argument("--encodings", default="ttfs,temporal_bit")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()

    import ray

    import neurodeploy as nd
    from neurodeploy.app.api import simulate
    from neurodeploy.app.compare import compare_encodings
    from neurodeploy.app.ray_tasks import simulate_sharded
    from neurodeploy.app.pipeline import InputRequest, simulation_inputs

    network = nd.load_network(args.net)
    test, _ = simulation_inputs(network, InputRequest())
    large = nd.ImageInput(np.concatenate([test.images] * args.copies), test.schedule, test.seed)
    reference = simulate(network, large, backend="emulator")
    encodings = [name for name in args.encodings.split(",") if name]
    load_before = os.getloadavg()
    seconds: dict[str, dict[int, float]] = {"emulator": {}, "compare": {}}
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "grid.yaml"
        config.write_text(yaml.safe_dump(GRID_CONFIG))
        for workers in (1, 2):
            ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
            try:
                _warm_up(workers, network, large)
                began = time.perf_counter()
                sharded = simulate_sharded(partial(simulate, network, backend="emulator"), network, large,
                                           shards=workers)
                seconds["emulator"][workers] = time.perf_counter() - began
                if not np.array_equal(sharded.output_counts, reference.output_counts):
                    raise SystemExit("sharded emulator output differs from the single-process run")
                began = time.perf_counter()
                compare_encodings(str(config), encodings, args.seeds, str(Path(folder) / f"compare-{workers}"),
                        profiles=["loihi1"], ray="local")
                seconds["compare"][workers] = time.perf_counter() - began
            finally:
                ray.shutdown()
    print(json.dumps({
        "machine_cpus": os.cpu_count(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "emulator": {"samples": large.samples, "seconds_1_worker": seconds["emulator"][1],
                     "seconds_2_workers": seconds["emulator"][2],
                     "speedup": seconds["emulator"][1] / seconds["emulator"][2], "identical": True},
        "compare": {"runs": len(encodings) * args.seeds, "config": GRID_CONFIG,
                    "seconds_1_worker": seconds["compare"][1], "seconds_2_workers": seconds["compare"][2],
                    "speedup": seconds["compare"][1] / seconds["compare"][2]},
    }, indent=2))


if __name__ == "__main__":
    main()
