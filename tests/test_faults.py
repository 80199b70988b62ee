"""Injected faults: a Lava child killed or stopped, Ctrl-C, the parent killed, an
unwritable or full output folder, a torch writer that fails, temporary files of a killed
writer; and what a good run leaves behind (nothing).

Lava runs here are small networks fed long spike trains (so a fault lands mid-run); each
has a timeout and ends with every Lava process gone and its shared memory unlinked.
README ("Bad input and faults"): a child that dies is reported within seconds, every Lava
process and /dev/shm segment is removed, Ctrl-C ends with ``interrupted`` and exit 130,
``kill -9`` of the command leaves no process nor segment.
"""
from __future__ import annotations

import errno
import re
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import neurodeploy as nd
from neurodeploy.core.errors import OutputError, SimulationError
from tests import netx_factory as nf
from tests.fuzz_harness import assert_clean, run_cli

REPORT_WITHIN_S = 10.0
INTERRUPT_WITHIN_S = 2.0


def _network(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    return nf.write_netx(folder / "net.net", [nf.dense_layer(2 * rng.integers(-20, 21, (16, 12))),
                                               nf.dense_layer(2 * rng.integers(-20, 21, (4, 16)))])


def _long_spikes(folder: Path, samples: int = 400) -> Path:
    path = folder / "spikes.npy"
    np.save(path, np.random.default_rng(1).random((samples, 40, 12)) < 0.3)
    return path


def _gone(pid: int) -> bool:
    """No such process, or one that has exited and waits only to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _shared_memory(pid: int) -> set[str]:
    """The POSIX shared-memory segments process ``pid`` has mapped (Lava's channels)."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split()[-1] for line in maps if "/dev/shm/psm_" in line}


def _children(pid: int) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(value) for value in found.split()]


def _lava_children(at_least: int = 3, within_s: float = 120) -> list[multiprocessing.Process]:
    """This process's Lava children once at least ``at_least`` of them run."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        lava = [child for child in multiprocessing.active_children() if type(child).__name__ == "SystemProcess"]
        if len(lava) >= at_least:
            return lava
        time.sleep(0.1)
    return []


@pytest.mark.parametrize("strike, message", [(signal.SIGKILL, r"was killed by SIGKILL"),
                                             (signal.SIGSTOP, r"is stopped \(state T\)")])
@pytest.mark.lava
def test_a_killed_or_stopped_lava_child_is_reported_within_seconds_and_cleaned_up(tmp_path, strike, message):
    network = nd.load_network(_network(tmp_path))
    spikes = nd.SpikeInput(np.load(_long_spikes(tmp_path)))
    seen: dict[str, object] = {}

    def strike_a_child() -> None:
        lava = _lava_children()
        time.sleep(1.0)
        seen["children"] = [child.pid for child in multiprocessing.active_children()]
        seen["memory"] = _shared_memory(os.getpid())
        seen["struck_at"] = time.monotonic()
        os.kill(lava[-1].pid, strike)

    threading.Thread(target=strike_a_child, daemon=True).start()
    with pytest.raises(SimulationError, match=message) as caught:
        nd.simulate(network, spikes, backend="lava", timeout_s=240)
    reported_after = time.monotonic() - seen["struck_at"]
    assert reported_after < REPORT_WITHIN_S, reported_after
    assert "\n" not in str(caught.value)
    assert seen["memory"], "the run mapped no shared memory: the test did not see Lava running"
    assert [pid for pid in seen["children"] if not _gone(pid)] == []
    assert [name for name in seen["memory"] if os.path.exists(name)] == []


@pytest.mark.lava
def test_a_good_run_leaves_no_lava_process_or_shared_memory(tmp_path):
    network = nd.load_network(_network(tmp_path))
    spikes = nd.SpikeInput(np.load(_long_spikes(tmp_path, samples=200)))
    seen: dict[str, object] = {}

    def look() -> None:
        _lava_children()
        seen["children"] = [child.pid for child in multiprocessing.active_children()]
        seen["memory"] = _shared_memory(os.getpid())

    watcher = threading.Thread(target=look, daemon=True)
    watcher.start()
    result = nd.simulate(network, spikes, backend="lava", timeout_s=240)
    watcher.join(5)
    assert result.output_counts.shape == (200, 4)
    assert seen.get("memory"), "the look came after the run: the test saw nothing to clean up"
    assert [pid for pid in seen["children"] if not _gone(pid)] == []
    assert [name for name in seen["memory"] if os.path.exists(name)] == []


def _start_simulate(folder: Path) -> subprocess.Popen:
    """``neurodeploy simulate`` on Lava in its own session, once its Lava children run."""
    process = subprocess.Popen([sys.executable, "-m", "neurodeploy.app.cli", "simulate", str(_network(folder)),
                                "--spikes", str(_long_spikes(folder))],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 180
    while len(_children(process.pid)) < 4 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)
    assert process.poll() is None, process.communicate()
    return process


@pytest.mark.lava
def test_ctrl_c_ends_simulate_in_one_line_with_exit_130(tmp_path):
    process = _start_simulate(tmp_path)
    children, memory = _children(process.pid), _shared_memory(process.pid)
    began = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, stderr = process.communicate(timeout=60)
    took = time.monotonic() - began
    assert process.returncode == 130 and took < INTERRUPT_WITHIN_S, (process.returncode, took, stderr)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted", stderr
    time.sleep(1.0)
    assert memory and [name for name in memory if os.path.exists(name)] == []
    assert [pid for pid in children if not _gone(pid)] == []


@pytest.mark.slow
def test_a_killed_parent_leaves_no_lava_process_or_shared_memory(tmp_path):
    """README, "Bad input and faults": ``kill -9`` of the command leaves no Lava process nor
    /dev/shm segment (``make test`` runs it)."""
    process = _start_simulate(tmp_path)
    children, memory = _children(process.pid), _shared_memory(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + REPORT_WITHIN_S
    while time.monotonic() < deadline and (any(not _gone(pid) for pid in children)
                                           or any(os.path.exists(name) for name in memory)):
        time.sleep(0.2)
    assert memory and [name for name in memory if os.path.exists(name)] == []
    assert [pid for pid in children if not _gone(pid)] == []


def _mnist5k_conv_shaped(folder: Path) -> Path:
    """The layers of examples/mnist5k_conv.yaml (28x28 -> 16c3s2 -> 32c3s2 -> 128 -> 10),
    the slowest example on Lava, with seeded weights instead of trained ones: Lava's cost
    per step is its processes' synchronisation, the same for any weights."""
    rng = np.random.default_rng(0)
    return nf.write_netx(folder / "mnist5k_conv.net", [
        nf.conv_layer(2 * rng.integers(-30, 31, (16, 1, 3, 3)), (16, 14, 14), stride=2, padding=1),
        nf.conv_layer(2 * rng.integers(-20, 21, (32, 16, 3, 3)), (32, 7, 7), stride=2, padding=1),
        {"type": "flatten", "shape": np.array([32 * 7 * 7, 1, 1])},
        nf.dense_layer(2 * rng.integers(-8, 9, (128, 32 * 7 * 7))),
        nf.dense_layer(2 * rng.integers(-20, 21, (10, 128)))])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_slowest_example_network_finishes_beside_two_spinning_processes(tmp_path):
    """README: a hang is no progress for 30 s, not time per step; the mnist5k conv net's
    run finishes on a machine made slower by two processes spinning on its cores, under
    the default watchdog (no wall-clock limit). The rule itself, fast: test_runner.py."""
    network = nd.load_network(_mnist5k_conv_shaped(tmp_path))
    images = np.random.default_rng(1).integers(0, 256, (20, 1, 28, 28), dtype=np.uint8)
    spinning = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(2)]
    try:
        result = nd.simulate(network, nd.ImageInput(images, nd.FrameSchedule()), backend="lava")
    finally:
        for process in spinning:
            process.kill()
            process.wait()
    assert result.output_counts.shape == (20, 10)
    assert result.steps == 20 * nd.FrameSchedule().frame_steps + 4  # the drain: one step per hop


def _refuse(error_number: int):
    def fail(*args, **kwargs):
        raise OSError(error_number, os.strerror(error_number))
    return fail


@pytest.mark.parametrize("error_number, reason", [(errno.ENOSPC, "No space left on device"),
                                                  (errno.EACCES, "Permission denied"),
                                                  (errno.EROFS, "Read-only file system")])
def test_an_unwritable_or_full_folder_is_one_line_naming_the_path(tmp_path, monkeypatch, error_number, reason):
    network = _network(tmp_path)
    out = tmp_path / "out"
    out.mkdir()  # an output creates no folder: the folder is there, writing in it fails
    monkeypatch.setattr(Path, "write_text", _refuse(error_number))
    outcome = run_cli(["validate", network, "--hw", "loihi2", "--map", out / "map.json"])
    assert_clean(outcome, out, codes=(2,))
    assert f"{out / 'map.json'}: cannot write the output ({reason})" in outcome.stderr


@pytest.mark.lava
def test_an_unwritable_run_folder_is_found_before_training(tmp_path, monkeypatch):
    from tests.conftest import SMALL_RUN, write_config

    config = write_config(tmp_path, {**SMALL_RUN, "output": str(tmp_path / "run")})
    monkeypatch.setattr(Path, "write_bytes", _refuse(errno.EACCES))
    began = time.monotonic()
    outcome = run_cli(["train", config])
    assert_clean(outcome, tmp_path / "run", codes=(2,))
    assert f"{tmp_path / 'run'}: cannot write the run folder (Permission denied)" in outcome.stderr
    assert time.monotonic() - began < 30


@pytest.mark.lava
def test_a_failing_torch_writer_is_one_error_naming_the_checkpoint(tmp_path, monkeypatch):
    import torch

    from neurodeploy.training import train as train_module

    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:595] . PytorchStreamWriter failed "
                           "writing file data/0: file write failed")

    from neurodeploy.core.config import parse_config
    from neurodeploy.training.network import SpikingNetwork

    config = parse_config({"model": {"hidden": [4]}})
    network = SpikingNetwork(config.model, (1, 4, 4), 3)
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OutputError, match="checkpoint.pt: cannot write the checkpoint .*file write failed"):
        train_module._save_checkpoint(tmp_path / "checkpoint.pt", network,
                                      torch.optim.SGD(network.parameters(), lr=0.1),
                                      train_module.TrainResult(), config, None, 1, world_size=1)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writers_partial_file_is_removed_by_the_next_write(tmp_path):
    network = _network(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    dead = out / f".map.json.partial-{_dead_pid()}"
    alive = out / f".other.json.partial-{os.getppid()}"
    dead.write_text("half")
    alive.write_text("being written")
    assert_clean(run_cli(["validate", network, "--hw", "loihi2", "--map", out / "map.json"]))
    assert not dead.exists() and alive.exists() and (out / "map.json").exists()


def _dead_pid() -> int:
    """The id of a process that has finished."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def _child_that(action: str) -> None:
    """A child started inside a watched run: it exits with code 3, or is stopped."""
    child = multiprocessing.Process(target=time.sleep, args=(30,), daemon=True)
    child.start()
    if action == "exits":
        child.kill()
    else:
        os.kill(child.pid, signal.SIGSTOP)
    _child_that.started = child  # type: ignore[attr-defined]
    time.sleep(20)


def _stop_then_fork_late(late: list) -> None:
    """A run that starts a child that is stopped at once, then, after the watchdog has
    given up on it, forks another (as Lava does while it still starts a run's processes)."""
    first = multiprocessing.Process(target=time.sleep, args=(30,), daemon=True)
    first.start()
    os.kill(first.pid, signal.SIGSTOP)
    late.append(first)
    time.sleep(1.5)
    child = multiprocessing.Process(target=time.sleep, args=(30,), daemon=True)
    child.start()
    late.append(child)


def test_a_process_forked_for_a_run_given_up_on_exits_at_once():
    """Found with benchmarks/faults.py under load: a child stopped while Lava was still
    starting the run's processes; the abort killed those there, Lava forked three more
    afterwards, and they (and the command, waiting on them at exit) never ended."""
    from neurodeploy.backends.lavasim import runner

    late: list = []
    with pytest.raises(SimulationError, match=re.escape("is stopped (state T)")):
        runner.run_with_watchdog(lambda: _stop_then_fork_late(late), None, 100)
    try:
        deadline = time.monotonic() + 10
        while len(late) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        late[1].join(5)
        assert late[1].exitcode == 1, "the late child lives on"
    finally:
        for child in late:
            child.kill()
            child.join(5)


@pytest.mark.parametrize("action, message", [("exits", "was killed by SIGKILL"), ("stops", "is stopped (state T)")])
def test_the_watchdog_notices_a_dead_or_stopped_child_within_a_second(action, message):
    from neurodeploy.backends.lavasim import runner

    began = time.monotonic()
    try:
        with pytest.raises(SimulationError, match=re.escape(message)):
            runner.run_with_watchdog(lambda: _child_that(action), 60, 100)
        assert time.monotonic() - began < 3
    finally:
        child = _child_that.started  # type: ignore[attr-defined]
        child.kill()
        child.join(5)
