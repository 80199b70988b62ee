"""The Lava runner: predictions as torch decodes them, counts per layer, watchdog, bad files."""
import time

import h5py
import numpy as np
import pytest

from neurodeploy.errors import InputError, NetworkFileError, SimulationError
from neurodeploy.sim import runner


@pytest.mark.timeout(240)
def test_lava_agrees_with_torch_on_a_small_run(small_run):
    trained, _ = small_run
    test = trained.split.test
    result = runner.simulate(trained.network_file, test.images[:40], trained.manifest.schedule, timeout_s=200)
    assert result.output_counts.shape == (40, 10)
    assert result.steps == 40 * trained.manifest.schedule.frame_steps + 2
    assert set(result.spikes_per_layer) == {"dense0", "dense1"}
    agreement = np.mean(result.predictions == trained.torch_predictions[:40])
    assert agreement >= 0.95, f"torch/Lava agreement {agreement:.2f}"


def test_watchdog_turns_a_hang_into_an_error():
    with pytest.raises(SimulationError, match="did not finish 7 steps within 0.2 s"):
        runner.run_with_watchdog(lambda: time.sleep(3), 0.2, 7)


def test_watchdog_reports_a_failed_run():
    def fail():
        raise RuntimeError("1 Exception(s) occurred. See output above")

    with pytest.raises(SimulationError, match="Lava run failed: 1 Exception"):
        runner.run_with_watchdog(fail, 5, 7)


def test_files_netx_cannot_build_are_refused(tmp_path, small_run):
    trained, _ = small_run
    path = tmp_path / "pool.net"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("layer/0/type", (1,), "S10", [b"pool"])
        handle.create_dataset("layer/0/shape", data=np.array([1, 4, 4]))
    with pytest.raises(NetworkFileError, match="pool.net"):
        runner.simulate(path, trained.split.test.images[:2], trained.manifest.schedule, timeout_s=30)


def test_images_must_fit_the_input_port():
    with pytest.raises(InputError, match=r"do not fit the network.s input port \(63,\)"):
        runner.arrange_for_port(np.zeros((2, 1, 8, 8), np.uint8), (63,))
