"""Early exit on Lava: the offline rule's decisions, and the skipped steps really skipped
(the whole test split of the README's digits example: tests/test_targets_slow.py)."""
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.core.config import DataConfig
from neurodeploy.core.data import load_split
from neurodeploy.core.decision import cumulative_counts, early_exit
from neurodeploy.core.encoding import FrameSchedule, encode
from neurodeploy.core.errors import NetworkFileError
from neurodeploy.core.netxfile import read_netx
from neurodeploy.backends.lavasim import runner
from neurodeploy.backends.lavasim.early_exit import exit_sweep_lava, simulate_early_exit, state_vars
from tests.netx_factory import conv_layer, dense_layer, write_netx

pytestmark = pytest.mark.lava  # Lava's early-exit processes

SAMPLES = 20
NEVER = 10**9


def per_step_output(result: runner.SimulationResult, layer: str, frame: int) -> np.ndarray:
    """The runner's output per frame step ``(N, F, classes)``, from its recording.

    The recording gives frame steps ``hops .. hops + F - 1`` (Lava step ``k * F + s + 1``
    for frame step ``s`` of sample ``k``); steps before ``hops`` carry nothing on torch's
    time axis, and steps from ``F`` on are the drain tail."""
    output = result.recording[layer]
    steps = np.zeros((len(result.predictions), frame, output.spikes.shape[-1]), dtype=np.int64)
    steps[:, output.hops:] = output.spikes[:, :frame - output.hops]
    np.testing.assert_array_equal(steps.sum(axis=1), result.output_counts)
    return steps


@pytest.fixture(scope="module")
def back_to_back(small_run):
    """The runner's result on SAMPLES test images and its output per frame step."""
    trained, _ = small_run
    schedule = trained.manifest.schedule
    result = runner.run_on_lava(trained.network_file, trained.split.test.images[:SAMPLES], schedule,
                             timeout_s=120, record_layers=True)
    return result, per_step_output(result, trained.manifest.layers[-1].name, schedule.frame_steps)


def _early_exit(small_run, threshold: float, samples: int = SAMPLES):
    trained, _ = small_run
    return simulate_early_exit(trained.network_file, trained.split.test.images[:samples],
                               trained.manifest.schedule, threshold, timeout_s=120)


@pytest.mark.timeout(300)
def test_an_unreachable_threshold_reproduces_the_back_to_back_runner(small_run, back_to_back):
    result, _ = back_to_back
    frame = small_run[0].manifest.schedule.frame_steps
    run = _early_exit(small_run, NEVER)
    np.testing.assert_array_equal(run.output_counts, result.output_counts)
    np.testing.assert_array_equal(run.predictions, result.predictions)
    assert (run.exit_steps == frame).all()
    assert run.steps_run == SAMPLES * frame


@pytest.mark.timeout(300)
@pytest.mark.parametrize("threshold", [1, 2, 4])
def test_exits_match_the_offline_rule_and_skip_the_frame_rest(small_run, back_to_back, threshold):
    _, output_steps = back_to_back
    frame = small_run[0].manifest.schedule.frame_steps
    expected = early_exit(cumulative_counts(output_steps), threshold)
    run = _early_exit(small_run, threshold)
    np.testing.assert_array_equal(run.exit_steps, expected.exit_steps)
    np.testing.assert_array_equal(run.predictions, expected.predictions)
    assert run.steps_run == run.exit_steps.sum() < SAMPLES * frame


@pytest.mark.timeout(120)
def test_threshold_zero_exits_every_sample_after_one_step(small_run):
    run = _early_exit(small_run, 0)
    assert (run.exit_steps == 1).all()
    assert run.steps_run == SAMPLES


@pytest.mark.timeout(120)
def test_the_sweep_reports_each_threshold(small_run):
    trained, _ = small_run
    test, frame = trained.split.test, trained.manifest.schedule.frame_steps
    rows = exit_sweep_lava(trained.network_file, test.images[:5], test.labels[:5],
                           trained.manifest.schedule, [0, NEVER])
    assert [row["threshold"] for row in rows] == [0, NEVER]
    assert [row["steps_run"] for row in rows] == [5, 5 * frame]
    assert rows[0]["mean_exit_step"] == 1 and rows[1]["mean_exit_step"] == frame
    assert all(row["wall_s"] > 0 and 0 <= row["accuracy"] <= 1 for row in rows)


@pytest.mark.timeout(120)
def test_the_generator_starts_any_sample_at_any_step():
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer

    from neurodeploy.backends.lavasim.procs.generator import HybridSpikeGenerator

    schedule = FrameSchedule(temporal_steps=4, n_bits=4, gap=1)
    frame = schedule.frame_steps
    images = np.random.default_rng(0).integers(1, 16, (5, 1, 2, 3), dtype=np.uint8)
    generator = HybridSpikeGenerator(images=images.reshape(5, -1), schedule=schedule)
    sink = RingBuffer(shape=(6,), buffer=3 + 2 * frame)
    generator.s_out.connect(sink.a_in)
    try:
        generator.run(condition=RunSteps(num_steps=3), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        generator.sample.set(np.array([3]))
        generator.origin.set(np.array([3]))
        generator.run(condition=RunSteps(num_steps=2 * frame))
        recorded = sink.data.get()
    finally:
        generator.stop()
    frames = encode(images, schedule).reshape(5, 6, frame).numpy()
    np.testing.assert_array_equal(recorded[:, :3], frames[0, :, :3])
    np.testing.assert_array_equal(recorded[:, 3:3 + frame], frames[3])  # restarted at sample 3
    np.testing.assert_array_equal(recorded[:, 3 + frame:], frames[4])  # then back to back again


def conv_network(folder: Path) -> Path:
    """conv 1 -> 4 channels (3x3, stride 2) on 8x8, flatten, dense 64 -> 16 -> 10: three
    layers of state, a conv buffer among them."""
    rng = np.random.default_rng(0)
    return write_netx(folder / "conv.net", [
        conv_layer(rng.integers(-30, 60, size=(4, 1, 3, 3)), (4, 4, 4), stride=2, padding=1),
        {"type": "flatten", "shape": np.array([64, 1, 1])},
        dense_layer(rng.integers(-40, 40, size=(16, 64))),
        dense_layer(rng.integers(-50, 50, size=(10, 16)))])


@pytest.mark.timeout(180)
def test_every_layer_of_a_conv_network_is_reset(tmp_path):
    path, schedule = conv_network(tmp_path), FrameSchedule(gap=3)
    images = load_split(DataConfig(), seed=0).test.images[:8]
    result = runner.run_on_lava(path, images, schedule, timeout_s=120, record_layers=True)
    output_steps = per_step_output(result, read_netx(path).layers[-1].name, schedule.frame_steps)
    never = simulate_early_exit(path, images, schedule, NEVER, timeout_s=120)
    np.testing.assert_array_equal(never.output_counts, result.output_counts)
    expected = early_exit(cumulative_counts(output_steps), 3)
    run = simulate_early_exit(path, images, schedule, 3, timeout_s=120)
    np.testing.assert_array_equal(run.exit_steps, expected.exit_steps)
    np.testing.assert_array_equal(run.predictions, expected.predictions)
    assert run.steps_run == run.exit_steps.sum() < never.steps_run


def test_the_pause_flag_gone_is_an_error_naming_it(monkeypatch):
    """The control ends the run through Lava's private ``_req_pause``: a Lava without it is
    refused before the run (the pause itself is checked above: ``steps_run`` is the last
    step Lava simulated, and equals the exit steps' sum)."""
    from neurodeploy.backends.lavasim.private import LavaInternalsError
    from neurodeploy.backends.lavasim.procs import exit_control

    class Renamed:
        def __init__(self):
            self._pause_requested = False

    monkeypatch.setattr(exit_control, "PyLoihiProcessModel", Renamed)
    with pytest.raises(LavaInternalsError, match=r"Renamed has no _req_pause: .*lava-nc==0\.10\.0"):
        exit_control.check_lava_internals.__wrapped__()
    monkeypatch.undo()
    exit_control.check_lava_internals.__wrapped__()


def test_only_known_state_is_reset(tmp_path):
    from neurodeploy.training.lavadl import netx

    path = conv_network(tmp_path)
    plain = netx.hdf5.Network(net_config=str(path), input_shape=(8, 8, 1))
    names = sorted(f"{type(var.process).__name__}.{var.name}" for var in state_vars(plain))
    assert names == ["Conv.a_buf"] + ["Dense.a_buff"] * 2 + ["LIF.u"] * 3 + ["LIF.v"] * 3
    periodic = netx.hdf5.Network(net_config=str(path), input_shape=(8, 8, 1), reset_interval=4)
    with pytest.raises(NetworkFileError, match="cannot reset a LIFReset"):
        state_vars(periodic)
