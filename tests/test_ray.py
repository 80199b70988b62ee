"""Ray: sharded simulation and parity equal the single-process run bit for bit, a compare
grid via Ray equals the in-process one, a killed worker is retried, bad input fails once.

One local Ray for the module (``ray.init(num_cpus=2)``, no other address); the
commands' ``ray_session`` uses it as it finds it.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.app.api import parity, simulate
from neurodeploy.app.ray_tasks import run_tasks, simulate_sharded
from neurodeploy.core.errors import InputError
from neurodeploy.core.inputs import ImageInput, SpikeInput

TASK_TITLE = b"ray::neurodeploy_task"


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")  # the [scale] extra: the Lava leg installs it, the core leg does not
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def digits(small_run):
    trained, _ = small_run
    test = trained.split.test
    return trained, trained.read_network(), ImageInput(test.images, trained.manifest.schedule, 0, test.labels)


def _same(one, other) -> None:
    """Every output of two simulation results, bit for bit."""
    assert np.array_equal(one.output_counts, other.output_counts)
    assert one.spikes_per_layer == other.spikes_per_layer
    assert one.steps == other.steps and one.neurons_per_layer == other.neurons_per_layer
    if one.output_spikes is not None or other.output_spikes is not None:
        assert np.array_equal(one.output_spikes, other.output_spikes)
    if one.recording is not None or other.recording is not None:
        for name, trace in one.recording.items():
            assert np.array_equal(trace.spikes, other.recording[name].spikes)
            assert np.array_equal(trace.voltage, other.recording[name].voltage)


@pytest.mark.timeout(300)
def test_sharded_emulator_is_bit_identical_to_one_process(local_ray, digits):
    trained, network, images = digits
    rng = np.random.default_rng(0)
    rate = trained.config.encoding.replace(encoding="rate").schedule(network.hops)
    cases = {"temporal_bit images": images,
             "rate images (one seeded draw)": ImageInput(images.images, rate, 7, images.labels),
             "spikes": SpikeInput(rng.random((len(images.images), 12, 64)) < 0.3)}
    for name, inputs in cases.items():
        run = partial(simulate, network, backend="emulator", keep_output=True, record=True)
        sharded = simulate_sharded(run, network, inputs, shards=3)
        assert sharded.extra["ray_tasks"] == 3, name
        _same(run(inputs), sharded)
    assert sharded.output_counts.sum() > 0


@pytest.mark.timeout(300)
def test_lava_runs_in_ray_workers_and_parity_merges(local_ray, digits):
    _, network, images = digits
    few = images.head(6)
    daemonic = run_tasks(lambda: multiprocessing.current_process().daemon, [(), ()])
    assert daemonic == [False, False]  # so Lava may start its runtime's processes there

    from neurodeploy.app.pipeline import parity_on_ray

    alone = parity(network, few, timeout_s=240)
    sharded = parity_on_ray("local", network, few, timeout_s=240)
    assert sharded.to_dict() == alone.to_dict()
    assert sharded.emulator_exact and alone.samples == 6


def _killer(stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the first Ray worker seen running a neurodeploy task (its process title)."""
    while not stop.is_set() and not killed:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(TASK_TITLE):
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.01)


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_task_is_retried_and_the_result_is_a_clean_runs(local_ray, digits):
    _, network, images = digits
    emulate = partial(simulate, network, backend="emulator", keep_output=True)

    def slow(inputs):  # long enough for the killer to find the task running
        time.sleep(3)
        return emulate(inputs)

    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_killer, args=(stop, killed), daemon=True)
    killer.start()
    try:
        retried = simulate_sharded(slow, network, images, shards=2)
    finally:
        stop.set()
        killer.join()
    assert len(killed) == 1
    _same(emulate(images), retried)


@pytest.mark.timeout(300)
def test_a_task_failing_on_bad_input_fails_once_with_its_error(local_ray, tmp_path):
    attempts = tmp_path / "attempts"

    def task(index):
        with open(attempts, "a") as log:
            log.write(f"{index}\n")
        if index == 1:
            raise InputError(f"sample file {index}: bad shape")
        return index

    with pytest.raises(InputError, match="^sample file 1: bad shape$"):
        run_tasks(task, [(0,), (1,)])
    assert attempts.read_text().split().count("1") == 1  # not retried
    assert run_tasks(task, [(2,), (3,)]) == [2, 3]


@pytest.mark.timeout(300)
def test_simulate_cli_on_lava_via_ray_saves_what_the_emulator_saves(local_ray, small_run, tmp_path, capsys):
    from neurodeploy.app.cli import main

    trained, _ = small_run
    plain, sharded = tmp_path / "plain.npz", tmp_path / "ray.npz"
    main(["simulate", str(trained.network_file), "-n", "6", "--backend", "emulator", "--save-output", str(plain)])
    main(["simulate", str(trained.network_file), "-n", "6", "--backend", "lava", "--timeout", "240",
          "--save-output", str(sharded), "--ray", "local"])
    assert "ran as 2 Ray tasks" in capsys.readouterr().err
    with np.load(plain) as one, np.load(sharded) as other:
        assert np.array_equal(one["output_spikes"], other["output_spikes"])
        assert np.array_equal(one["output_counts"], other["output_counts"])
        assert one["output_counts"].sum() > 0


@pytest.mark.lava
@pytest.mark.timeout(300)
def test_compare_grid_via_ray_equals_in_process(local_ray, tmp_path):
    import torch

    from neurodeploy.app.compare import compare_encodings
    from tests.conftest import write_config

    config = write_config(tmp_path, {"name": "grid", "seed": 0, "data": {"dataset": "digits", "limit": 300},
                                     "model": {"hidden": [16]}, "train": {"epochs": 1, "device": "cpu"}})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the Ray workers, so both sides compute the same floats
    try:
        alone = compare_encodings(str(config), ["ttfs", "temporal_bit"], 1, str(tmp_path / "alone"), profiles=["loihi1"])
    finally:
        torch.set_num_threads(threads)
    via_ray = compare_encodings(str(config), ["ttfs", "temporal_bit"], 1, str(tmp_path / "ray"), profiles=["loihi1"],
                      ray="local")
    assert [run["encoding"] for run in via_ray["runs"]] == ["ttfs", "temporal_bit"]
    assert via_ray["runs"] == alone["runs"]
    assert via_ray["by_encoding"] == alone["by_encoding"]
    assert (tmp_path / "ray" / "runs" / "ttfs-seed0" / "model.net").exists()
