"""Shared fixtures: a small trained-and-exported digits run, made once per session."""
from pathlib import Path

import pytest
import yaml

SMALL_RUN = {"name": "small", "seed": 0, "data": {"dataset": "digits", "limit": 400},
             "train": {"epochs": 3}, "model": {"hidden": [32]}, "simulate": {"samples": 40, "timeout_s": 120}}


def write_config(folder: Path, config: dict, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """Train + export a 64-32-10 network on 400 digits (seconds); returns (TrainedRun, config path)."""
    from neurodeploy.pipeline import train_and_export

    folder = tmp_path_factory.mktemp("small_run")
    config = write_config(folder, {**SMALL_RUN, "output": str(folder / "run")})
    return train_and_export(str(config)), config
