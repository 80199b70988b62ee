"""The spine's acceptance targets on the full digits test split (run with `-m slow`)."""
from pathlib import Path

import pytest

from neurodeploy.pipeline import run_all

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("config", ["digits.yaml", "conv_digits.yaml"])
def test_example_reaches_its_targets_on_lava(tmp_path, config):
    metrics = run_all(str(EXAMPLES / config), output=str(tmp_path / "run"))
    assert metrics["simulated_samples"] == 360
    assert metrics["torch_test_accuracy"] >= 0.95
    assert abs(metrics["lava_accuracy"] - metrics["torch_test_accuracy"]) <= 0.01
    assert metrics["prediction_agreement"] >= 0.98
    assert metrics["emulator_lava_agreement"] == 1.0, "the emulator is bit-exact with Lava"
