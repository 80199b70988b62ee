"""Torch CPU threads and OpenMP's wait policy, on this machine as it is and under load.

Each configuration (``NEURODEPLOY_THREADS`` 1 or 2 x ``OMP_WAIT_POLICY`` unset or
``PASSIVE``) runs in a fresh interpreter (the policy is read when OpenMP starts) and
times, median of interleaved repeats: a digits-sized SLAYER training step (Dense 64-128-10,
18 steps, batch 32, forward + backward + Adam), SLAYER's forward over 128 samples, and the
emulator over the same 128 samples. A configuration that takes longer than ``--limit``
seconds is reported as ``null`` (it collapsed). Then the same again while ``--busy`` processes spin on
the CPU (what other users of a shared machine do). Prints one JSON object with the
slowdown of each configuration against one thread, and ``uptime`` before each phase.

Run: .venv/bin/python benchmarks/threads.py [--busy 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

CONFIGS = ({"threads": 1, "wait": None}, {"threads": 2, "wait": None}, {"threads": 2, "wait": "PASSIVE"},
           {"threads": 1, "wait": "PASSIVE"})


def worker(repeats: int) -> dict[str, float]:
    """The timings of one configuration, in this interpreter."""
    import h5py
    import torch

    import neurodeploy as nd
    from neurodeploy.core.config import DataConfig, NeuronConfig
    from neurodeploy.core.data import load_split
    from neurodeploy.core.encoding import FrameSchedule, encode
    from neurodeploy.training.lavadl import slayer
    from neurodeploy.core.runtime import thread_count
    from neurodeploy.backends.emulator.engine import emulate

    torch.set_num_threads(thread_count())
    schedule = FrameSchedule(encoding="temporal_bit", temporal_steps=8, n_bits=8, gap=2)
    split = load_split(DataConfig(dataset="digits"), 0)
    neuron = NeuronConfig().dump()
    torch.manual_seed(0)
    blocks = torch.nn.Sequential(slayer.block.cuba.Dense(neuron, 64, 128, delay_shift=True),
                                 slayer.block.cuba.Dense(neuron, 128, 10, delay_shift=True))
    optimizer = torch.optim.Adam(blocks.parameters(), lr=1e-3)
    loss = slayer.loss.SpikeRate(true_rate=0.2, false_rate=0.03)
    train = encode(split.train.images[:32], schedule).flatten(1, -2)
    labels = torch.as_tensor(split.train.labels[:32])
    test = split.test.images[:128]

    def step() -> None:
        optimizer.zero_grad()
        loss(blocks(train), labels).backward()
        optimizer.step()

    def forward() -> None:
        with torch.no_grad():
            blocks(encode(test, schedule).flatten(1, -2))

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "digits.net"
        forward()  # SLAYER blocks learn their shapes on a first pass
        with h5py.File(path, "w") as handle:  # lava-dl's own export of the blocks
            layers = handle.create_group("layer")
            for index, block in enumerate(blocks):
                block.export_hdf5(layers.create_group(str(index)))
        network, images = nd.load_network(path), nd.ImageInput(test, schedule)
        runs = {"train_step_ms": step, "slayer_forward_ms": forward,
                "emulator_ms": lambda: emulate(network, images)}
        for run in runs.values():
            run()
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):
            for name, run in runs.items():
                began = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - began)
    return {name: 1e3 * statistics.median(values) for name, values in times.items()}


def run_configs(repeats: int, limit_s: float) -> dict[str, Optional[dict[str, float]]]:
    results: dict[str, Optional[dict[str, float]]] = {}
    for config in CONFIGS:
        env = {**os.environ, "NEURODEPLOY_THREADS": str(config["threads"])}
        env.pop("OMP_WAIT_POLICY", None)
        env.pop("OMP_NUM_THREADS", None)
        if config["wait"]:
            env["OMP_WAIT_POLICY"] = config["wait"]
        name = f"threads={config['threads']} wait={config['wait'] or 'default'}"
        try:
            out = subprocess.run([sys.executable, __file__, "--worker", "--repeats", str(repeats)], env=env,
                                 capture_output=True, text=True, check=True, timeout=limit_s).stdout
            results[name] = json.loads(out.splitlines()[-1])
        except subprocess.TimeoutExpired:
            results[name] = None
        print(name, results[name], file=sys.stderr, flush=True)
    return results


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _slowdowns(results: dict[str, Optional[dict[str, float]]]) -> dict[str, Optional[dict[str, float]]]:
    base = results["threads=1 wait=default"]
    return {name: None if timings is None or base is None else
            {key: round(value / base[key], 3) for key, value in timings.items()}
            for name, timings in results.items()}


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2, help="spinning processes for the loaded phase")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=float, default=90.0, help="seconds one configuration may take")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.repeats)))
        return
    report: dict[str, Any] = {"benchmark": "threads", "cpus": os.cpu_count()}
    report["as_is"] = {"uptime": _uptime(), "median_ms": run_configs(args.repeats, args.limit)}
    report["as_is"]["relative_to_1_thread"] = _slowdowns(report["as_is"]["median_ms"])
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        time.sleep(1.0)
        report["loaded"] = {"busy_processes": args.busy, "uptime": _uptime(),
                            "median_ms": run_configs(args.repeats, args.limit)}
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    report["loaded"]["relative_to_1_thread"] = _slowdowns(report["loaded"]["median_ms"])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
