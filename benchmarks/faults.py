"""How fast Lava faults end, and what they leave behind: a killed Lava child, Ctrl-C of
``neurodeploy simulate``, and ``kill -9`` of the simulate process itself; with ``--net``,
a healthy run of that network on a machine made slower, and a stopped child there.

    .venv/bin/python benchmarks/faults.py
    .venv/bin/python benchmarks/faults.py --net runs/mnist5k_conv/model.net --samples 50 --spinners 2

Each fault scenario runs a 12-16-4 dense network on 400 spike samples of 40 steps on Lava
and strikes once the run's processes are up; it prints the seconds from the fault to the
error (or exit), and the Lava processes and /dev/shm segments still there a second later.

With ``--net`` (a trained export with its manifest; the slowest example is
``examples/mnist5k_conv.yaml``) it first starts ``--spinners`` processes that spin on a
core each, then runs ``--samples`` test samples on Lava under the default watchdog (no
wall-clock limit) and prints whether the run finished, its time per step and per block-step
beside the 20 ms per block-step the old deadline allowed, and the longest stretch without
progress the watchdog saw (against its stall limit); then it runs again and stops
(SIGSTOP) one Lava process mid-run, and prints how soon that was reported.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import netx_factory as nf  # noqa: E402  (the test suite's file builder)


def _files(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    net = nf.write_netx(folder / "net.net", [nf.dense_layer(2 * rng.integers(-20, 21, (16, 12))),
                                              nf.dense_layer(2 * rng.integers(-20, 21, (4, 16)))])
    spikes = folder / "spikes.npy"
    np.save(spikes, rng.random((400, 40, 12)) < 0.3)
    return net, spikes


def _segments(pid: int) -> set[str]:
    return {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if "/dev/shm/psm_" in line}


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(value) for value in out.split()]


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _left(pids: list[int], segments: set[str]) -> str:
    time.sleep(1.0)
    return (f"{sum(_running(pid) for pid in pids)} of {len(pids)} processes, "
            f"{sum(os.path.exists(name) for name in segments)} of {len(segments)} segments left")


def killed_child(net: Path, spikes: Path) -> None:
    import neurodeploy as nd
    from neurodeploy.core.errors import SimulationError

    seen: dict = {}

    def strike() -> None:
        while sum(type(c).__name__ == "SystemProcess" for c in multiprocessing.active_children()) < 3:
            time.sleep(0.1)
        time.sleep(1.0)
        seen["pids"] = [child.pid for child in multiprocessing.active_children()]
        seen["segments"] = _segments(os.getpid())
        victim = [c for c in multiprocessing.active_children() if type(c).__name__ == "SystemProcess"][-1]
        seen["at"] = time.monotonic()
        os.kill(victim.pid, signal.SIGKILL)

    threading.Thread(target=strike, daemon=True).start()
    try:
        nd.simulate(nd.load_network(net), nd.SpikeInput(np.load(spikes)), backend="lava", timeout_s=300)
        print("killed Lava child: the run finished (the kill came too late)")
    except SimulationError as error:
        took = time.monotonic() - seen["at"]
        print(f"killed Lava child: reported after {took:.2f} s ({error}); {_left(seen['pids'], seen['segments'])}")


def _simulate(net: Path, spikes: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "neurodeploy.app.cli", "simulate", str(net), "--spikes", str(spikes)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    while len(_children(process.pid)) < 4:
        time.sleep(0.2)
    time.sleep(1.0)
    return process


def ctrl_c(net: Path, spikes: Path) -> None:
    process = _simulate(net, spikes)
    pids, segments = _children(process.pid), _segments(process.pid)
    began = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    took = time.monotonic() - began
    print(f"Ctrl-C of simulate: exit {process.returncode} after {took:.2f} s, last line "
          f"{stderr.strip().splitlines()[-1]!r}, {stderr.count('Traceback')} tracebacks; {_left(pids, segments)}")


def killed_parent(net: Path, spikes: Path) -> None:
    process = _simulate(net, spikes)
    pids, segments = _children(process.pid), _segments(process.pid)
    began = time.monotonic()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    while (any(_running(pid) for pid in pids) or any(os.path.exists(s) for s in segments)) \
            and time.monotonic() - began < 30:
        time.sleep(0.05)
    print(f"kill -9 of simulate: children and segments gone after {time.monotonic() - began:.2f} s; "
          f"{_left(pids, segments)}")


def _test_images(net: Path, samples: int):
    """The first ``samples`` test images of the data set the network's manifest names."""
    import neurodeploy as nd
    from neurodeploy.core.data import load_split
    from neurodeploy.core.manifest import Manifest

    manifest = Manifest.beside(net)
    if manifest is None:
        raise SystemExit(f"{net}: no manifest beside it (needed for its schedule and data)")
    test = load_split(manifest.data_config(), seed=0).test
    return nd.ImageInput(test.images[:samples], manifest.schedule)


def slower_machine(net: Path, samples: int, spinners: int) -> None:
    """The run on ``net`` beside ``spinners`` spinning processes, and a stopped child then."""
    import neurodeploy as nd
    from neurodeploy.core.errors import SimulationError
    from neurodeploy.backends.lavasim import runner

    idle = {"longest_s": 0.0}

    class Watched(runner.Stall):  # the watchdog's own rule, recording the longest stretch without progress
        def hung(self, progress, now):
            stalled = super().hung(progress, now)
            idle["longest_s"] = max(idle["longest_s"], now - self.since)
            return stalled

    runner.Stall = Watched
    from neurodeploy.core.blocks import NetworkTiming

    network, inputs = nd.load_network(net), _test_images(net, samples)
    blocks = len(NetworkTiming.of(network, inputs.frame_steps).blocks)
    spinning = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(spinners)]
    try:
        load = os.getloadavg()[0]
        began = time.monotonic()
        result = nd.simulate(network, inputs, backend="lava")
        took = time.monotonic() - began
        per_step = 1000 * result.wall_s / result.steps
        print(f"{net} on Lava beside {spinners} spinning processes (load {load:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after): finished {samples} samples, {result.steps} steps in {took:.1f} s "
              f"({per_step:.1f} ms a step, {per_step / blocks:.1f} ms a block-step against the old 20 ms; "
              f"the old deadline was {60 + 0.02 * result.steps * blocks:.0f} s); longest stretch without progress "
              f"{idle['longest_s']:.1f} s (stall limit {runner.STALL_S:g} s)")
        seen: dict = {}

        def stop_one() -> None:
            while sum(type(c).__name__ == "SystemProcess" for c in multiprocessing.active_children()) < 3:
                time.sleep(0.1)
            time.sleep(2.0)
            lava = [c for c in multiprocessing.active_children() if type(c).__name__ == "SystemProcess"]
            seen["pids"] = [child.pid for child in multiprocessing.active_children()]
            seen["segments"] = _segments(os.getpid())
            seen["at"] = time.monotonic()
            os.kill(lava[-1].pid, signal.SIGSTOP)

        threading.Thread(target=stop_one, daemon=True).start()
        try:
            nd.simulate(network, inputs, backend="lava")
            print("stopped Lava child: the run finished (the stop came too late)")
        except SimulationError as error:
            print(f"stopped Lava child beside {spinners} spinning processes: reported after "
                  f"{time.monotonic() - seen['at']:.2f} s ({error}); {_left(seen['pids'], seen['segments'])}")
    finally:
        for process in spinning:
            process.kill()
            process.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", type=Path, help="a trained export: run the slower-machine scenarios on it")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--spinners", type=int, default=2)
    options = parser.parse_args()
    if options.net is not None:
        slower_machine(options.net, options.samples, options.spinners)
    else:
        with tempfile.TemporaryDirectory() as folder:
            files = _files(Path(folder))
            for scenario in (killed_child, ctrl_c, killed_parent):
                scenario(*files)
