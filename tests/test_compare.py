"""`compare`: exit-aware activity equals a hand count; the report and its plots are written."""
import json
import numpy as np
import pytest
import yaml

from neurodeploy.compare import _activity, compare
from neurodeploy.netxfile import read_netx
from tests.netx_factory import dense_layer, write_netx


def test_activity_up_to_the_exit_step_matches_a_hand_count(tmp_path):
    network = read_netx(write_netx(tmp_path / "n.net", [dense_layer(np.ones((3, 4))),
                                                         dense_layer(np.ones((2, 3)))]))
    input_steps = np.array([[2, 1, 3], [0, 4, 4]])        # input spikes per step, 2 samples
    layers = {"dense0": np.array([[0, 1, 1], [0, 2, 2]]), "dense1": np.array([[0, 0, 1], [0, 1, 0]])}
    counts = _activity(network, input_steps, layers, exit_steps=np.array([2, 3]))
    # sample 0 stops after 2 steps: input 3, hidden 1, out 0; sample 1 runs 3: input 8, hidden 4, out 1
    assert counts["synaptic_ops_per_sample"] == pytest.approx(((3 * 3 + 1 * 2) + (8 * 3 + 4 * 2)) / 2)
    assert counts["spikes_per_sample"] == pytest.approx(((3 + 1 + 0) + (8 + 4 + 1)) / 2)
    assert counts["neuron_updates_per_sample"] == pytest.approx(5 * 2.5)


@pytest.mark.timeout(300)
def test_compare_writes_tables_claims_and_plots(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump({"name": "small", "data": {"dataset": "digits", "limit": 300},
                                      "model": {"hidden": [16]}, "train": {"epochs": 2}}))
    summary = compare(str(config), ["rate_bit", "temporal_bit"], seeds=2, output=str(tmp_path / "out"))
    out = tmp_path / "out"
    assert set(summary["by_encoding"]) == {"rate_bit", "temporal_bit"}
    assert summary["by_encoding"]["temporal_bit"]["torch_accuracy"]["std"] >= 0
    assert len(json.loads((out / "compare.json").read_text())["runs"]) == 4
    report = (out / "compare.md").read_text()
    for claim in ("Accuracy equal or better", "12 % fewer spikes", "15 % lower latency", "10 % less energy"):
        assert claim in report
    for name in ("accuracy_vs_step.png", "input_rasters.png", "spikes_per_layer.png", "early_exit.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
