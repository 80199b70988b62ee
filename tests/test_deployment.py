"""Per-profile deployment summaries: a profile given as a file path, not only by name."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.core.errors import ConfigError
from neurodeploy.hardware.deployment import deployment_summary, validate_profiles
from neurodeploy.hardware.profile import load_profile, profiles_dir
from neurodeploy.hardware.validate import validate_file
from tests.netx_factory import dense_layer, write_netx

ACTIVITY = {"synaptic_ops_per_sample": 1.0, "neuron_updates_per_sample": 1.0, "spikes_per_sample": 1.0}


def _network(tmp_path: Path) -> Path:
    return write_netx(tmp_path / "small.net", [dense_layer(np.full((3, 4), 2.0)),
                                                dense_layer(np.full((2, 3), 2.0))])


def _renamed_copy(tmp_path: Path, shipped: str, name: str) -> Path:
    """A shipped profile copied outside the profile directory, with another ``name``."""
    text = (profiles_dir() / f"{shipped}.yaml").read_text()
    lines = [f"name: {name}" if line.startswith("name:") else line for line in text.splitlines()]
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_profile_given_as_a_path_reaches_the_energy_step(tmp_path):
    network = _network(tmp_path)
    mine = _renamed_copy(tmp_path, "loihi2", "myloihi")
    with pytest.raises(ConfigError):
        load_profile("myloihi")  # the name inside the file does not find it again
    reports = validate_profiles(network, [str(mine), "loihi1"])
    assert list(reports) == [str(mine), "loihi1"]
    assert reports[str(mine)].profile == "myloihi"
    summary = deployment_summary(reports[str(mine)], ACTIVITY)
    assert summary["verdict"] == "deployable" and summary["cores"] == 2
    # the copy's figures (found only through the path) give Loihi 2's calibrated energy
    shipped = deployment_summary(validate_file(network, "loihi2"), ACTIVITY)
    assert summary["dynamic_energy_per_sample_j"] == shipped["dynamic_energy_per_sample_j"] is not None


def test_summary_uses_the_file_the_user_named(tmp_path):
    """A renamed Loihi 1 copy gives Loihi 1's energy, from the file, not by name."""
    network = _network(tmp_path)
    mine = _renamed_copy(tmp_path, "loihi1", "mychip")
    reports = validate_profiles(network, [mine, "loihi1"])
    assert reports[mine].loaded_profile.name == "mychip"
    ours, shipped = (deployment_summary(reports[key], ACTIVITY) for key in (mine, "loihi1"))
    assert ours["dynamic_energy_per_sample_j"] == shipped["dynamic_energy_per_sample_j"] is not None


def test_plain_report_and_explicit_profile(tmp_path):
    network = _network(tmp_path)
    mine = _renamed_copy(tmp_path, "loihi1", "mychip")
    named = validate_file(network, "loihi1")  # a plain report still finds a named profile
    assert deployment_summary(named, ACTIVITY)["dynamic_energy_per_sample_j"] is not None
    from_path = validate_file(network, mine)
    for profile in (mine, load_profile(mine)):
        assert deployment_summary(from_path, ACTIVITY, profile)["dynamic_energy_per_sample_j"] is not None
