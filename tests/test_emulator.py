"""The emulator against Lava fixed_pt: every spike and voltage of every layer at every step.

Zero differences, not a tolerance: the same samples run through the Lava runner (with its
per-layer recording) and through the emulator, and every recorded array must be equal.
"""
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.core.encoding import FrameSchedule
from neurodeploy.backends.lavasim import runner
from neurodeploy.backends.emulator.engine import emulate
from tests import netx_factory
from tests.emulator_paths import PATHS
from tests.random_nets import random_case

pytestmark = pytest.mark.lava  # every test runs Lava beside the emulator (test_core_leg.py covers the core leg)

LAVA_TIMEOUT_S = 120


def assert_exact(path: Path, images: np.ndarray, schedule: FrameSchedule, batch_size: int = 256) -> None:
    """Lava and the emulator agree on everything the runner returns, and on every step."""
    lava = runner.run_on_lava(path, images, schedule, timeout_s=LAVA_TIMEOUT_S, record_layers=True)
    for arithmetic, context in PATHS.items():  # events, product + compiled loop, the GPU's torch path
        with context():
            emulated = emulate(path, images, schedule, batch_size=batch_size, record=True)
        assert emulated.steps == lava.steps
        assert emulated.spikes_per_layer == lava.spikes_per_layer, arithmetic
        np.testing.assert_array_equal(emulated.output_counts, lava.output_counts, err_msg=arithmetic)
        np.testing.assert_array_equal(emulated.predictions, lava.predictions)
        assert list(emulated.recording) == list(lava.recording)
        for name, trace in lava.recording.items():
            mine = emulated.recording[name]
            np.testing.assert_array_equal(mine.spikes, trace.spikes, err_msg=f"{arithmetic}: {name} spikes")
            np.testing.assert_array_equal(mine.voltage, trace.voltage, err_msg=f"{arithmetic}: {name} voltages")


def images(seed: int, shape: tuple[int, ...], samples: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(samples, *shape)).astype(np.uint8)


@pytest.mark.timeout(300)
def test_exact_on_the_small_run_export(small_run):
    trained, _ = small_run
    assert_exact(trained.network_file, trained.split.test.images[:10], trained.manifest.schedule)


@pytest.mark.timeout(240)
def test_exact_on_a_slayer_conv_export(tmp_path):
    path = netx_factory.conv_net(tmp_path / "conv.net")
    assert_exact(path, images(1, (2, 8, 10)), FrameSchedule(gap=2))


@pytest.mark.timeout(240)
def test_exact_on_slayer_delay_and_recurrent_exports(tmp_path):
    schedule = FrameSchedule(temporal_steps=4, drop_lsb=4, gap=0)  # 8 steps: delays up to 5 cross frames
    assert_exact(netx_factory.delay_net(tmp_path / "delay.net"), images(2, (1, 2, 5), 8), schedule, batch_size=3)
    assert_exact(netx_factory.recurrent_net(tmp_path / "rec.net"), images(3, (1, 4, 4), 8), schedule, batch_size=3)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed", [4, 7, 9, 13, 15, 57])
def test_exact_on_random_networks(tmp_path, seed):
    """Seeds chosen to cover: conv wrap of u, recurrent carries between samples, warm-up
    spikes from biases, delays past 62 and past the frame, int16 bias wrap, 4-step frames."""
    case = random_case(tmp_path, seed)
    assert_exact(case.path, case.images, case.schedule, batch_size=4)


@pytest.mark.timeout(240)
def test_exact_when_frames_are_shorter_than_the_network_is_deep(tmp_path):
    """Two-step frames and three biased layers: resets fall inside the warm-up steps,
    whose spikes reach the frames through delays (up to 3 steps) and recurrence."""
    neuron = netx_factory.cuba_neuron(iDecay=2000, vDecay=500, vThMant=40)
    path = netx_factory.write_netx(tmp_path / "deep.net", [
        netx_factory.dense_layer(np.array([[90, -60, 40, 10], [-30, 80, 20, -70], [50, 50, -90, 30],
                                           [10, -20, 30, 40], [-80, 10, 60, 20]]), neuron, bias=np.full(5, 50)),
        netx_factory.dense_layer(np.array([[40, -30, 20, 10, -20], [-10, 50, -40, 30, 20],
                                           [30, 20, 10, -50, 40], [-20, -10, 60, 20, 10]]), neuron,
                                 delay=np.array([0, 1, 2, 3]), bias=np.full(4, 30)),
        netx_factory.dense_layer(np.array([[50, -40, 30, 20], [-30, 60, 10, -20], [20, 20, -50, 40]]), neuron,
                                 weight_rec=np.array([[0, -50, 40], [30, 0, -20], [-40, 50, 0]]))])
    schedule = FrameSchedule(temporal_steps=1, drop_lsb=7, gap=0)
    assert schedule.frame_steps == 2
    assert_exact(path, images(7, (1, 2, 2), 9), schedule, batch_size=4)


@pytest.mark.timeout(240)
def test_exact_when_recurrent_activity_never_stops(tmp_path):
    """A bias above threshold keeps the recurrent layer firing at every frame boundary, so
    each sample starts from the last spikes of the one before."""
    weight = np.array([[60, -40, 30, 20], [-50, 70, 10, -30], [25, 25, -60, 40]])
    neuron = netx_factory.cuba_neuron(iDecay=4096, vDecay=300, vThMant=30)
    path = netx_factory.write_netx(tmp_path / "busy.net", [
        netx_factory.dense_layer(weight, neuron, weight_rec=np.array([[0, -90, 80], [70, 0, -60], [-80, 90, 0]]),
                                 bias=np.array([40, 35, 45]))])
    assert_exact(path, images(4, (1, 2, 2), 9), FrameSchedule(temporal_steps=2, drop_lsb=5, gap=0), batch_size=4)


@pytest.mark.timeout(240)
def test_exact_when_wide_dense_sums_wrap_the_current(tmp_path):
    """1200 inputs at weight 255 reach 2**18 per step: u wraps and int32 sums are live."""
    neuron = netx_factory.cuba_neuron(iDecay=0, vDecay=0, vThMant=(1 << 17) - 1)
    path = netx_factory.write_netx(tmp_path / "wide.net", [
        netx_factory.dense_layer(np.full((3, 1200), 255), neuron),
        netx_factory.dense_layer(np.array([[255, -256, 3], [1, 2, 3]]))])
    bright = np.full((3, 3, 20, 20), 255, dtype=np.uint8)
    bright[1, :, :10] = 0
    assert_exact(path, bright, FrameSchedule(gap=2))


@pytest.mark.timeout(240)
def test_exact_on_a_cifar_sized_conv(tmp_path):
    """3x32x32 input, strided conv with a per-channel bias, then dense: the emulator's
    unfold + matrix product against Lava's scipy convolution."""
    rng = np.random.default_rng(5)
    conv = netx_factory.conv_layer(rng.integers(-60, 61, size=(6, 3, 3, 3)), (6, 16, 16), stride=2, padding=1)
    conv["bias"] = rng.integers(-20, 21, size=6)
    path = netx_factory.write_netx(tmp_path / "cifar.net", [
        conv, {"type": "flatten", "shape": np.array([6 * 16 * 16, 1, 1])},
        netx_factory.dense_layer(rng.integers(-30, 31, size=(10, 6 * 16 * 16)))])
    assert_exact(path, images(6, (3, 32, 32), 2), FrameSchedule(temporal_steps=4, gap=2))


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("seed", range(100, 140))
def test_exact_on_many_random_networks(tmp_path, seed):
    """README, "Whole test sets in seconds": every spike and voltage of every layer at every
    step equals Lava's on random networks, zero differences (40 more seeds than the default
    suite's chosen ones; ``make test`` runs them)."""
    case = random_case(tmp_path, seed, samples=10)
    assert_exact(case.path, case.images, case.schedule, batch_size=3)
