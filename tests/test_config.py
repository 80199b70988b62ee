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
