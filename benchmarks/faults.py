"""How fast Lava faults end, and what they leave behind: a killed Lava child, Ctrl-C of
``neurodeploy simulate``, and ``kill -9`` of the simulate process itself.

    .venv/bin/python benchmarks/faults.py

Each scenario runs a 12-16-4 dense network on 400 spike samples of 40 steps on Lava and
strikes once the run's processes are up; it prints the seconds from the fault to the
error (or exit), and the Lava processes and /dev/shm segments still there a second later.
"""
from __future__ import annotations

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
    from neurodeploy.errors import SimulationError

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
    process = subprocess.Popen([sys.executable, "-m", "neurodeploy.cli", "simulate", str(net), "--spikes", str(spikes)],
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


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        files = _files(Path(folder))
        for scenario in (killed_child, ctrl_c, killed_parent):
            scenario(*files)
