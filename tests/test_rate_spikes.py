"""One seeded rate-spike draw: sample i's spikes depend on (seed, i) alone, so a batch, a
Ray shard, Lava's spike source and the torch model all see the same spikes, and a sharded
run (``simulate --ray``, ``parity --ray``) is bit for bit the unsharded one."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from neurodeploy.app.ray_tasks import shards_for
from neurodeploy.core.encoding import FrameSchedule, encode_steps
from neurodeploy.core.inputs import ImageInput
from neurodeploy.core.netxfile import read_netx
from neurodeploy.core.results import SimulationResult
from neurodeploy.backends.emulator.engine import emulate
from tests import netx_factory

RATE = FrameSchedule(encoding="rate", temporal_steps=12, gap=2)
LAVA_TIMEOUT_S = 120


def _images(samples: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(samples, 1, 4, 4)).astype(np.uint8)


def _network(tmp_path):
    """Dense 16 -> 12 -> 5, weak enough that no output saturates: every drawn spike counts."""
    rng = np.random.default_rng(3)
    layers = [netx_factory.dense_layer(rng.integers(-20, 30, size=(12, 16))),
              netx_factory.dense_layer(rng.integers(-20, 30, size=(5, 12)))]
    return read_netx(netx_factory.write_netx(tmp_path / "rate.net", layers))


def _joined(parts: list[SimulationResult], network, inputs: ImageInput) -> SimulationResult:
    from neurodeploy.core.blocks import NetworkTiming

    timing = NetworkTiming.of(network, inputs.frame_steps)
    return SimulationResult.concatenate(parts, timing.total_steps(inputs.samples), 0.0)


def _same(run: SimulationResult, other: SimulationResult) -> None:
    """Counts, mean spikes per layer and every recorded spike and voltage, bit for bit."""
    np.testing.assert_array_equal(run.output_counts, other.output_counts)
    assert run.spikes_per_layer == other.spikes_per_layer
    for name, trace in other.recording.items():
        np.testing.assert_array_equal(run.recording[name].spikes, trace.spikes)
        np.testing.assert_array_equal(run.recording[name].voltage, trace.voltage)


def test_a_samples_spikes_depend_on_the_seed_and_its_index_only():
    images = _images(9)
    whole = encode_steps(images, RATE, seed=11)
    pieces = [encode_steps(images[start:stop], RATE, seed=11, first=start) for start, stop in ((0, 2), (2, 7), (7, 9))]
    assert torch.equal(torch.cat(pieces), whole)
    assert not torch.equal(encode_steps(images, RATE, seed=12), whole)
    other = images.copy()
    other[3] = 255 - other[3]                       # a neighbour's pixels do not move sample 4's draws
    assert torch.equal(encode_steps(other, RATE, seed=11)[4], whole[4])
    assert not torch.equal(encode_steps(images[4:5], RATE, seed=11)[0], whole[4])  # its index does
    assert torch.equal(ImageInput(images, RATE, 11).spikes(4, 9), whole[4:])


def test_batch_size_does_not_change_a_rate_coded_emulator_run(tmp_path):
    network = _network(tmp_path)
    inputs = ImageInput(_images(11), RATE, seed=5)
    one, *others = [emulate(network, inputs, batch_size=size, record=True) for size in (1, 4, 256)]
    assert one.output_counts.sum() > 0
    for run in others:
        _same(run, one)


def test_shards_of_a_rate_code_give_the_unsharded_emulator_run(tmp_path):
    """What ``simulate --ray`` / ``parity --ray`` run per task: each shard knows its offset."""
    network = _network(tmp_path)
    inputs = ImageInput(_images(10), RATE, seed=5, labels=np.arange(10) % 5)
    parts = shards_for(network, inputs, shards=3)
    assert [part.first for part in parts] == [0, 3, 6] and sum(part.samples for part in parts) == 10
    whole = emulate(network, inputs, record=True)
    restarted = _joined([emulate(network, replace(part, first=0)) for part in parts], network, inputs)
    assert not np.array_equal(restarted.output_counts, whole.output_counts)  # what a per-shard redraw gave
    _same(_joined([emulate(network, part, record=True) for part in parts], network, inputs), whole)


@pytest.mark.lava
@pytest.mark.timeout(240)
def test_lava_on_shards_of_a_rate_code_is_the_unsharded_run_and_the_emulators(tmp_path):
    """Lava's spike source plays the same draw: sharded Lava counts equal the unsharded
    ones, which equal the emulator's; the parity report over shards is the one over all."""
    from neurodeploy.app.parity import concatenate_reports, parity_report
    from neurodeploy.backends.lavasim.runner import run_on_lava as simulate

    network = _network(tmp_path)
    inputs = ImageInput(_images(6), RATE, seed=5, labels=np.arange(6) % 5)
    parts = shards_for(network, inputs, shards=2)
    whole = simulate(network, inputs, timeout_s=LAVA_TIMEOUT_S)
    sharded = _joined([simulate(network, part, timeout_s=LAVA_TIMEOUT_S) for part in parts], network, inputs)
    assert whole.output_counts.sum() > 0
    np.testing.assert_array_equal(sharded.output_counts, whole.output_counts)
    np.testing.assert_array_equal(emulate(network, inputs).output_counts, whole.output_counts)
    reports = [parity_report(network, part, timeout_s=LAVA_TIMEOUT_S) for part in parts]
    merged = concatenate_reports(reports)
    assert merged.emulator_exact and merged.samples == 6
    assert merged.accuracy == {"emulator": float(np.mean(whole.predictions == inputs.labels)),
                               "lava": float(np.mean(whole.predictions == inputs.labels))}
