"""`compare`: exit-aware activity equals a hand count; the exit threshold comes from held-out
training images, never the test labels; paired t-intervals and claim verdicts; the report
and its plots are written."""
import json
from dataclasses import replace

import numpy as np
import pytest
import yaml

from neurodeploy.app.compare import _activity, compare_encodings, measure, t_interval
from neurodeploy.core.data import load_split
from neurodeploy.core.netxfile import read_netx
from neurodeploy.app.train_export import train_and_export
from neurodeploy.app.report.compare_report import claims
from tests.netx_factory import dense_layer, write_netx


def _small_config(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump({"name": "small", "data": {"dataset": "digits", "limit": 300},
                                      "model": {"hidden": [16]}, "train": {"epochs": 2}}))
    return config


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
@pytest.mark.lava
def test_compare_writes_tables_claims_and_plots(tmp_path):
    config = _small_config(tmp_path)
    summary = compare_encodings(str(config), ["rate_bit", "temporal_bit"], seeds=2, output=str(tmp_path / "out"),
                      overrides={"train.epochs": 1, "encoding.temporal_steps": 4})
    assert all(run["schedule"]["temporal_steps"] == 4 for run in summary["runs"])  # --set reaches every run
    out = tmp_path / "out"
    assert set(summary["by_encoding"]) == {"rate_bit", "temporal_bit"}
    accuracies = [run["torch_accuracy"] for run in summary["runs"] if run["encoding"] == "temporal_bit"]
    assert len(accuracies) == 2  # the table's mean +- std is over seeds, the std the population's
    assert summary["by_encoding"]["temporal_bit"]["torch_accuracy"] == pytest.approx(
        {"mean": np.mean(accuracies), "std": np.std(accuracies)}, abs=1e-12)
    assert len(json.loads((out / "compare.json").read_text())["runs"]) == 4
    report = (out / "compare.md").read_text()
    assert "`train.epochs=1`, `encoding.temporal_steps=4`, 2 seed(s)" in report.splitlines()[0]
    for claim in ("Accuracy equal or better", "12 % fewer spikes", "15 % lower latency", "10 % less energy"):
        line = next(line for line in report.splitlines() if claim in line)
        assert "secondary summary" in line and "95 % CI [" in line, line
    paired = summary["claims"]["accuracy_points"]
    runs = {(run["encoding"], run["seed"]): run for run in summary["runs"]}
    assert paired["values"] == pytest.approx(
        [100 * (runs["temporal_bit", seed]["faithful_accuracy"] - runs["rate_bit", seed]["faithful_accuracy"])
         for seed in (0, 1)])
    assert paired["low"] <= paired["mean"] <= paired["high"]
    assert all(run["validation_samples"] == 30 for run in summary["runs"])  # 10 % of 300 training images
    for name in ("accuracy_vs_step.png", "input_rasters.png", "spikes_per_layer.png", "early_exit.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
    for run in summary["runs"]:  # spikes_per_layer.png counts what the table's network spikes count (frame only)
        assert sum(run["layer_spikes"].values()) == pytest.approx(
            run["activity"]["spikes_per_sample"] - run["input_spikes"], rel=1e-12)


def test_t_interval_against_the_t_table():
    stat = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.7764 * np.std([1, 2, 3, 4, 5], ddof=1) / np.sqrt(5)  # t(0.975, 4) from a table
    assert stat["mean"] == 3.0 and stat["n"] == 5
    assert (stat["low"], stat["high"]) == pytest.approx((3 - half, 3 + half), abs=1e-3)
    assert t_interval([0.4])["low"] is None


def test_claim_verdicts_follow_the_interval():
    lines = claims({"accuracy_points": t_interval([-0.5, 0.3, 0.1]),
                    "spikes_change_pct": t_interval([-14.0, -11.0, -12.5]),
                    "mean_exit_step_change_pct": t_interval([5.0, -3.0, 1.0]),
                    "energy_at_exit_change_pct": t_interval([4.0, 6.0, 5.0])})
    accuracy, spikes, latency, energy = lines
    assert "holds (no difference within the CI)" in accuracy
    assert "**holds; the claimed -12 % lies inside the CI**" in spikes
    assert "not shown (the CI includes 0)" in latency
    assert "does not hold (the opposite); the claimed -10 % lies outside" in energy
    assert "does not hold" in claims({"accuracy_points": t_interval([-2.0, -3.0, -2.5])})[0]
    assert "not judged" in claims({"accuracy_points": t_interval([1.0])})[0]


@pytest.mark.timeout(300)
@pytest.mark.lava
def test_exit_threshold_is_chosen_on_held_out_training_images_not_test_labels(tmp_path):
    trained = train_and_export(str(_small_config(tmp_path)), {"train.epochs": 1},
                               output=str(tmp_path / "run"), validation_fraction=0.25)
    validation, train = trained.validation, trained.split.train
    assert len(validation) == 75 and len(train) == 225  # 25 % of the 300 training images, not trained on
    whole = load_split(trained.config.data, trained.config.seed).train

    def rows(*sets):
        return sorted(map(bytes, np.concatenate([np.concatenate([s.images.reshape(len(s), -1),
                                                                 s.labels[:, None].astype(np.uint8)], 1)
                                                 for s in sets])))
    assert rows(train, validation) == rows(whole)  # a partition of the training images
    assert trained.manifest.dataset["validation_samples"] == 75
    measured = measure(trained, (0, 1, 2, 4, 10**9), ["loihi1"])
    test = trained.split.test
    scrambled = replace(trained, split=replace(trained.split, test=replace(
        test, labels=(test.labels + 1 + np.arange(len(test)) % 7) % 10)))
    again = measure(scrambled, (0, 1, 2, 4, 10**9), ["loihi1"])
    assert again.exit_threshold == measured.exit_threshold
    assert again.validation_sweep == measured.validation_sweep
    assert again.faithful_accuracy != measured.faithful_accuracy  # the test labels were read, for scoring only
    with pytest.raises(ValueError, match="validation"):
        measure(replace(trained, validation=None), (0, 10**9), ["loihi1"])
