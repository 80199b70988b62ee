import pytest

from neurodeploy.core.config import load_config, parse_config
from neurodeploy.core.errors import ConfigError
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
    done = subprocess.run([sys.executable, "-m", "neurodeploy.app.cli", "check", "c.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "run folder runs/myrun is writable" in done.stdout + done.stderr, done.stderr


@pytest.mark.parametrize("raw, message", [
    ({"train": {"epochs": True}}, r"train.epochs: should be an integer \(got True\)"),
    ({"train": {"epochs": 3.0}}, r"train.epochs: should be an integer \(got 3.0\)"),
    ({"train": {"lr": float("nan")}}, r"train.lr: should be a finite number \(got nan\)"),
    ({"name": 5}, r"name: should be a string \(got 5\)"),
    ({"hardware": "loihi2"}, r"hardware: should be a list \(got 'loihi2'\)"),
    ({"model": {"conv": [{"kernel": 3}]}}, r"missing key 'model.conv.0.channels'"),
    ({"model": {"conv": [{"channels": 2, "kernel": 65}]}}, r"model.conv.0.kernel: should be at most 64 \(got 65\)"),
    ({"data": {"test_fraction": 1}}, r"data.test_fraction: should be less than 1 \(got 1\)"),
    ({"encoding": {"n_bits": 4, "drop_lsb": 4}}, r"encoding.drop_lsb: should be less than n_bits=4 \(got 4\)"),
    ({"encoding": {"temporal_steps": 4096}}, r"encoding: a frame of 4104 steps .* is more than 4096"),
    ({"train": {"epochs": 3, "epoch": 4}}, r"unknown key 'train.epoch' \(did you mean 'train.epochs'\?\)"),
    ({"train": {"zzz": 1}}, r"unknown key 'train.zzz'; expected one of \['epochs', 'batch_size'"),
    ({"model": {"conv": [{"channels": 2, "kernal": 3}]}}, r"unknown key 'model.conv.0.kernal' "
                                                          r"\(did you mean 'model.conv.0.kernel'\?\)"),
])
def test_strict_types_and_cross_key_rules_name_file_key_value_and_limit(raw, message):
    with pytest.raises(ConfigError, match=rf"^x.yaml: {message}"):
        parse_config(raw, source="x.yaml")


def test_an_error_names_the_set_that_brought_it(tmp_path):
    path = write_config(tmp_path, {"train": {"epochs": 4}, "dassdp": {"enabled": True}})
    with pytest.raises(ConfigError, match=r"^--set dassdp.warmup_epochs=9: dassdp.warmup_epochs: "
                                          r"should be less than train.epochs=4"):
        load_config(path, {"dassdp.warmup_epochs": 9})
    conv = write_config(tmp_path, {"model": {"conv": [{"channels": 2}]}}, "conv.yaml")
    with pytest.raises(ConfigError, match=r"^--set model.conv.0.kernel=99: model.conv.0.kernel: should be at most"):
        load_config(conv, {"model.conv.0.kernel": 99})


def test_defaults_that_follow_other_keys_are_settled():
    config = parse_config({"name": "mine", "train": {"batch_size": 8}})
    assert (config.output, config.dassdp.online_batch) == ("runs/mine", 8)
    config = parse_config({"name": "mine", "output": "elsewhere", "dassdp": {"online_batch": 2}})
    assert (config.output, config.dassdp.online_batch) == ("elsewhere", 2)


def test_configs_built_in_python_are_checked_read_only_and_compare_by_value():
    import pickle

    from neurodeploy.core.config import ConvLayerConfig, DataConfig, EncodingConfig, ModelConfig
    from neurodeploy.core.schema import Invalid

    with pytest.raises(Invalid, match=r"dataset: should be one of \['digits'"):
        DataConfig(dataset="imagenet")
    model = ModelConfig(conv=[ConvLayerConfig(channels=4)], hidden=[8])
    assert model.dump()["conv"] == [{"channels": 4, "kernel": 3, "stride": 2, "padding": 1}]
    assert model == ModelConfig(conv=[{"channels": 4}], hidden=[8]) != ModelConfig(hidden=[8])
    with pytest.raises(AttributeError, match="read-only"):
        model.hidden = [4]
    with pytest.raises(Invalid, match="temporal_steps: should be greater than 0"):
        EncodingConfig().replace(temporal_steps=0)
    config = parse_config({"model": {"conv": [{"channels": 2}]}, "dassdp": {"layers": ["dense1"]}})
    assert parse_config(config.dump()) == config == pickle.loads(pickle.dumps(config))
