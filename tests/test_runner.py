"""The Lava runner: predictions as torch decodes them, counts per layer, watchdog, bad files,
and the private Lava attributes its cleanup uses, checked before the first run."""
import threading
import time

import h5py
import numpy as np
import pytest

from neurodeploy.core.errors import InputError, NetworkFileError, SimulationError
from neurodeploy.backends.lavasim.private import LavaInternalsError, require
from neurodeploy.backends.lavasim import step_board
from neurodeploy.backends.lavasim import runner


@pytest.mark.timeout(240)
def test_lava_agrees_with_torch_on_a_small_run(small_run):
    trained, _ = small_run
    test = trained.split.test
    result = runner.run_on_lava(trained.network_file, test.images[:40], trained.manifest.schedule, timeout_s=200)
    assert result.output_counts.shape == (40, 10)
    assert result.steps == 40 * trained.manifest.schedule.frame_steps + 2
    assert set(result.spikes_per_layer) == {"dense0", "dense1"}
    agreement = np.mean(result.predictions == trained.torch_predictions[:40])
    assert agreement >= 0.95, f"torch/Lava agreement {agreement:.2f}"


def test_watchdog_keeps_the_callers_wall_clock_limit():
    with pytest.raises(SimulationError, match="did not finish 7 steps within 0.2 s"):
        runner.run_with_watchdog(lambda: time.sleep(3), 0.2, 7)
    with pytest.raises(SimulationError, match="expected a positive, finite number of seconds"):
        runner.run_with_watchdog(lambda: None, float("nan"), 7)


def test_a_hang_is_no_progress_for_the_stall_limit_not_time_per_step():
    """README: a hang is a run with no new step for STALL_S seconds. A fake clock: a run
    that makes a step every 20 s never trips a 30-s limit however long it takes (a
    budget per step would), and one stuck at a step trips it once 30 s have passed."""
    stall = runner.Stall(30.0, now=0.0)
    assert not any(stall.hung(step, now=20.0 * step) for step in range(1000))  # 20 000 s, never idle 30 s
    assert not stall.hung(999, now=20_010.0)
    assert stall.hung(999, now=20_010.1)
    with pytest.raises(SimulationError, match="stall limit"):
        runner.Stall(float("inf"), now=0.0)


def _stepping(slot: int, steps: int, seconds_per_step: float) -> None:
    """A run that reports a new step to ``slot`` every ``seconds_per_step``."""
    for step in range(1, steps + 1):
        time.sleep(seconds_per_step)
        step_board.report(slot, step)


def test_the_watchdog_lets_a_slow_run_finish_and_stops_a_stuck_one():
    """The same rule on the real watchdog, scaled down: a run that first compiles for 1 s
    (no process, no step yet: not judged) and then makes steps of 0.15 s finishes under a
    0.6-s stall limit (2.5 s in all); a run that stops reporting is stopped 0.6 s after its
    last step, well before it would have ended (10 s)."""
    with step_board.claim() as slot:
        began = time.monotonic()
        runner.run_with_watchdog(lambda: (time.sleep(1.0), _stepping(slot, 10, 0.15)), None, 10,
                                 reached=lambda: step_board.reached(slot), stall_s=0.6)
        assert 2.5 <= time.monotonic() - began < 6
    with step_board.claim() as slot:
        began = time.monotonic()
        with pytest.raises(SimulationError, match=r"no progress for 0.6 s \(at step 3 of 10\)"):
            runner.run_with_watchdog(lambda: (_stepping(slot, 3, 0.1), time.sleep(10)), None, 10,
                                     reached=lambda: step_board.reached(slot), stall_s=0.6)
        assert time.monotonic() - began < 3


def test_the_step_board_gives_each_run_its_own_slot():
    with step_board.claim() as first, step_board.claim() as second:
        assert first != second
        step_board.report(first, 7)
        assert (step_board.reached(first), step_board.reached(second)) == (7, 0)
    with step_board.claim() as again:
        assert step_board.reached(again) == 0


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
        runner.run_on_lava(path, trained.split.test.images[:2], trained.manifest.schedule, timeout_s=30)


def test_images_must_fit_the_input_port():
    with pytest.raises(InputError, match=r"do not fit the network.s input port \(63,\)"):
        runner.arrange_for_port(np.zeros((2, 1, 8, 8), np.uint8), (63,))


@pytest.mark.lava
def test_the_private_lava_attributes_the_cleanup_uses_exist_in_the_pinned_lava():
    runner.check_lava_internals.__wrapped__()  # uncached: the check itself runs


@pytest.mark.lava
def test_a_private_lava_attribute_gone_is_an_error_naming_it(monkeypatch):
    """A Lava whose shared-memory manager no longer has ``_manager``: the start-up check
    names it and the pinned version instead of a cleanup that silently does nothing."""
    from lava.magma.runtime.message_infrastructure import shared_memory_manager

    class Renamed:
        def __init__(self):
            self._shared_memory_handles = []
            self._server = None

    monkeypatch.setattr(shared_memory_manager, "SharedMemoryManager", Renamed)
    with pytest.raises(LavaInternalsError, match=r"\.Renamed has no _manager: .*unlinking a run's shared "
                                                 r"memory; it is written against lava-nc==0\.10\.0"):
        runner.check_lava_internals.__wrapped__()


def test_require_sees_attributes_a_class_assigns_to_self():
    class Base:
        def __init__(self):
            self._set_in_init: int = 0

    class Child(Base):
        exposed = 1

        def start(self, other):
            other._not_on_self = 1
            self._set_later = 2

    require(Child, ["exposed", "_set_in_init", "_set_later"], "a test")
    with pytest.raises(LavaInternalsError, match="has no _not_on_self, _gone: neurodeploy needs them for a test"):
        require(Child, ["_not_on_self", "_gone"], "a test")
    with pytest.raises(LavaInternalsError, match="threading has no _no_such_thing"):
        require(threading, ["_no_such_thing"], "a test")
