"""No silent resume: a checkpoint is continued only when it is the same run, and says so."""
import json
import re

import pytest

from neurodeploy.core.config import parse_config
from neurodeploy.core.errors import ConfigError
from neurodeploy.training.resume import Saved, identity, read_sidecar, resume_from, resume_line
from tests.conftest import write_config

SMALL = {"name": "resume", "seed": 0, "data": {"dataset": "digits", "limit": 200}, "train": {"epochs": 2},
         "model": {"hidden": [16]}, "hardware": []}


def _config(**train):
    return parse_config({**SMALL, "train": {**SMALL["train"], **train}})


def test_the_same_run_resumes_from_its_epoch(tmp_path):
    saved = Saved(1, identity(_config()), 1)
    assert resume_from(tmp_path / "c.pt", saved, _config(epochs=3), 1) == 1
    assert resume_from(tmp_path / "c.pt", None, _config(), 1) == 0
    assert resume_from(tmp_path / "c.pt", saved, _config(lr=0.01), 1, "fresh") == 0


def test_fewer_epochs_than_done_is_a_choice_not_the_old_model(tmp_path):
    saved = Saved(15, identity(_config()), 1)
    with pytest.raises(ConfigError, match=r"has 15 epochs, more than train.epochs=5; --fresh trains 5"):
        resume_from(tmp_path / "c.pt", saved, _config(epochs=5), 1)


def test_a_changed_config_names_what_changed(tmp_path):
    saved = Saved(2, identity(_config()), 1)
    with pytest.raises(ConfigError, match=r"different config \(train.lr: 0.003 then, 0.01 now\); --fresh"):
        resume_from(tmp_path / "c.pt", saved, _config(lr=0.01), 1)


def test_another_world_size_needs_resume_or_fresh(tmp_path):
    saved = Saved(15, identity(_config(epochs=15)), 1)
    with pytest.raises(ConfigError, match=r"trained by 1 process, this run has 2 processes \(torchrun\); "
                                          r"--resume continues it, --fresh"):
        resume_from(tmp_path / "c.pt", saved, _config(epochs=15), 2)
    assert resume_from(tmp_path / "c.pt", saved, _config(epochs=15), 2, "resume") == 15


def test_resume_lines():
    assert resume_line("r/checkpoint.pt", 1, 3) == "resuming r/checkpoint.pt from epoch 1 of 3 (--fresh trains from scratch)"
    assert "already holds all 3 epochs" in resume_line("r/checkpoint.pt", 3, 3)


@pytest.mark.lava
def test_train_announces_a_resume_and_refuses_fewer_epochs(tmp_path, capsys):
    from neurodeploy.app.preflight import preflight
    from neurodeploy.app.train_export import train_and_export

    config = write_config(tmp_path, {**SMALL, "output": str(tmp_path / "run")})
    first = train_and_export(str(config), {"train.epochs": 1})
    assert first.trained_epochs == 1
    saved = read_sidecar(tmp_path / "run" / "checkpoint.pt")
    assert saved == Saved(1, json.loads(json.dumps(identity(first.config))), 1)
    capsys.readouterr()

    resumed = train_and_export(str(config), {"train.epochs": 2})
    err = capsys.readouterr().err
    assert re.search(r"resuming \S+checkpoint.pt from epoch 1 of 2", err), err
    assert resumed.trained_epochs == 1 and [row["epoch"] for row in resumed.history] == [1, 2]
    assert resumed.history[0] == first.history[0]

    with pytest.raises(ConfigError, match=r"has 2 epochs, more than train.epochs=1"):
        train_and_export(str(config), {"train.epochs": 1})
    with pytest.raises(ConfigError, match=r"train.lr: 0.003 then, 0.01 now"):
        preflight(str(config), {"train.lr": 0.01})  # what `check` says, before torch
    assert "will resume its checkpoint from epoch 2 of 3" in preflight(str(config), {"train.epochs": 3}).summary

    again = train_and_export(str(config), {"train.epochs": 2})
    assert "already holds all 2 epochs" in capsys.readouterr().err
    assert again.trained_epochs == 0 and again.train_s == 0.0

    fresh = train_and_export(str(config), {"train.epochs": 1}, resume="fresh")
    assert fresh.trained_epochs == 1 and [row["epoch"] for row in fresh.history] == [1]
    assert read_sidecar(tmp_path / "run" / "checkpoint.pt").epoch == 1
