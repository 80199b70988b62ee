import pytest

from neurodeploy.config import load_config, parse_config
from neurodeploy.errors import ConfigError
from tests.conftest import write_config


def test_defaults_give_the_documented_schedule():
    config = parse_config({})
    schedule = config.encoding.schedule(hops=2)
    assert (schedule.encoding, schedule.frame_steps, schedule.gap) == ("temporal_bit", 18, 2)


@pytest.mark.parametrize("raw, message", [
    ({"trian": {"epochs": 3}}, "unknown key 'trian'"),
    ({"train": {"epoch": 3}}, "unknown key 'train.epoch'"),
    ({"train": {"epochs": "ten"}}, "train.epochs: .*'ten'"),
    ({"train": {"epochs": 0}}, "train.epochs: .*greater than 0"),
    ({"model": {"hidden": [128, -4]}}, r"model.hidden.1: should be greater than 0 \(got -4\)"),
    ({"encoding": {"encoding": "bits"}}, r"encoding.encoding: should be one of \['rate', .*\(got 'bits'\)"),
    ({"dassdp": {"enabled": True, "warmup_epochs": 20}, "train": {"epochs": 15}},
     r"dassdp.warmup_epochs: should be less than train.epochs=15.* \(got 20\)"),
])
def test_bad_configs_name_key_and_value(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, source="x.yaml")


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("train: [unclosed")
    with pytest.raises(ConfigError, match="broken.yaml: cannot read YAML"):
        load_config(broken)
    listed = write_config(tmp_path, [1, 2], "list.yaml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(listed)


def test_overrides_use_dotted_keys(tmp_path):
    path = write_config(tmp_path, {"train": {"epochs": 4}})
    assert load_config(path, {"train.epochs": 2, "model.hidden": [8]}).train.epochs == 2
    with pytest.raises(ConfigError, match="unknown key 'train.epochz'"):
        load_config(path, {"train.epochz": 2})


def test_name_names_the_run_folder_unless_output_is_set(tmp_path):
    path = write_config(tmp_path, {"name": "myrun"})
    assert load_config(path).output == "runs/myrun"
    assert load_config(path, {"name": "other"}).output == "runs/other"
    assert load_config(path, {"output": "elsewhere/x"}).output == "elsewhere/x"
    assert parse_config({}).output == "runs/experiment"


@pytest.mark.parametrize("name", ["", ".", "..", "../up", "a/b", "a\\b"])
def test_a_name_that_is_no_folder_name_cannot_choose_the_run_folder(name):
    with pytest.raises(ConfigError, match=r"x.yaml: name: names the run folder runs/<name> .*or set output"):
        parse_config({"name": name}, source="x.yaml")
    assert parse_config({"name": name, "output": "runs/chosen"}).output == "runs/chosen"


def test_check_names_runs_name_as_the_run_folder(tmp_path):
    import subprocess
    import sys

    write_config(tmp_path, {"name": "myrun", "data": {"dataset": "digits"}}, "c.yaml")
    done = subprocess.run([sys.executable, "-m", "neurodeploy.cli", "check", "c.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "run folder runs/myrun is writable" in done.stdout + done.stderr, done.stderr
