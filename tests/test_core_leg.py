"""The core leg computes what the Lava leg computes.

``fixtures/lava_golden.npz`` holds Lava's own output counts and every recorded spike and
voltage of every block, per step, for random networks (``tests/random_nets.py``: wraps,
saturation, biases, delays, recurrence) on seeded images. It is written in the Lava leg
by ``python -m tests.test_core_leg`` from a Lava run, after checking the emulator agrees.
Here the emulator, on whatever Python, numpy and torch run the suite (3.10 with numpy 1
and torch 2.3, or 3.11+ with numpy 2 and a current torch), must reproduce it bit for bit
on every arithmetic path; in the Lava leg Lava must too, so the file cannot go stale.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.core.results import SimulationResult
from neurodeploy.backends.emulator.engine import emulate
from tests.emulator_paths import PATHS
from tests.random_nets import random_case

GOLDEN = Path(__file__).parent / "fixtures" / "lava_golden.npz"
SEEDS = (4, 13, 57)          # conv wrap of u, recurrence across samples, delays past the frame
BATCH = 4
LAVA_TIMEOUT_S = 120


def _arrays(seed: int, result: SimulationResult) -> dict[str, np.ndarray]:
    """The result as flat named arrays: counts, then each block's spikes and voltages."""
    arrays = {f"{seed}/output_counts": np.asarray(result.output_counts)}
    for name, trace in (result.recording or {}).items():
        arrays[f"{seed}/{name}/spikes"] = np.asarray(trace.spikes)
        arrays[f"{seed}/{name}/voltage"] = np.asarray(trace.voltage)
    return arrays


def _assert_equal(found: dict[str, np.ndarray], golden: dict[str, np.ndarray], seed: int, what: str) -> None:
    expected = {key: value for key, value in golden.items() if key.startswith(f"{seed}/")}
    assert sorted(found) == sorted(expected), what
    for key, value in expected.items():
        np.testing.assert_array_equal(found[key], value, err_msg=f"{what}: {key}")


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN) as file:
        return dict(file)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_emulator_reproduces_lava_s_recorded_run(tmp_path, golden, seed):
    case = random_case(tmp_path, seed)
    for arithmetic, context in PATHS.items():
        with context():
            result = emulate(case.path, case.images, case.schedule, batch_size=BATCH, record=True)
        _assert_equal(_arrays(seed, result), golden, seed, f"emulator ({arithmetic}, numpy {np.__version__})")


@pytest.mark.lava
@pytest.mark.timeout(300)
def test_the_recorded_run_is_lava_s(tmp_path, golden):
    from neurodeploy.backends.lavasim import runner

    for seed in SEEDS:
        case = random_case(tmp_path, seed)
        result = runner.run_on_lava(case.path, case.images, case.schedule, timeout_s=LAVA_TIMEOUT_S, record_layers=True)
        _assert_equal(_arrays(seed, result), golden, seed, "Lava")


def write_golden(folder: Path) -> None:
    """Record Lava's run of every seed (Lava leg), after checking the emulator agrees."""
    from neurodeploy.backends.lavasim import runner

    arrays: dict[str, np.ndarray] = {}
    for seed in SEEDS:
        case = random_case(folder, seed)
        lava = _arrays(seed, runner.run_on_lava(case.path, case.images, case.schedule, timeout_s=LAVA_TIMEOUT_S,
                                             record_layers=True))
        _assert_equal(_arrays(seed, emulate(case.path, case.images, case.schedule, batch_size=BATCH, record=True)),
                      lava, seed, "emulator vs Lava")
        arrays.update(lava)
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(GOLDEN, **arrays)
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes, {len(arrays)} arrays)")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        write_golden(Path(scratch))
    sys.exit(0)
