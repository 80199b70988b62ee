"""Hardware profiles: the shipped YAMLs, lookup, and the strict schema."""
from __future__ import annotations

import shutil

import pytest
import yaml

from neurodeploy.core.errors import ConfigError
from neurodeploy.hardware.findings import breach
from neurodeploy.hardware.profile import ENV_VAR, list_profiles, load_profile, profiles_dir

PER_CORE = ("neurons_per_core", "synapse_memory_bits", "input_axons_per_core", "output_axons_per_core")


@pytest.mark.parametrize("name", ["loihi1", "loihi2"])
def test_shipped_profiles_load_and_cite_every_number(name):
    profile = load_profile(name)
    facts = dict(profile.facts())
    assert profile.name == name and len(facts) > 40
    for key, fact in facts.items():
        assert fact.source.strip(), key
        assert fact.confidence in ("code", "doc", "compiler output", "secondary", "uncertain"), key
    assert {path.stem for path in list_profiles()} >= {"loihi1", "loihi2"}


def test_loihi_limits_match_the_facts_sheet():
    loihi1, loihi2 = load_profile("loihi1"), load_profile("loihi2")
    assert (loihi1.timing.t_epoch_steps.min, loihi1.timing.t_epoch_steps.max) == (1, 63)
    assert loihi1.resources.neurons_per_core.value == 1024
    assert loihi1.resources.synapse_memory_bits.value == 128 * 1024 * 8
    assert loihi1.precision.graded_spike_bits.value == 0 and loihi2.precision.graded_spike_bits.value == 24
    # Loihi 2 per-core limits are not public: every one is uncertain; Loihi 1's are code
    assert all(getattr(loihi2.resources, key).uncertain for key in PER_CORE)
    assert not any(getattr(loihi1.resources, key).uncertain for key in PER_CORE)


def test_uncertain_limit_turns_an_error_into_a_warning_that_says_so():
    loihi2 = load_profile("loihi2")
    finding = breach(loihi2.resources.neurons_per_core, check="resources.x", layer="dense0",
                     value=9000, limit=8192, fix="Split the layer.")
    assert finding.severity == "warning"
    assert "uncertain limit" in finding.source and "uncertain limit" in finding.fix
    certain = breach(load_profile("loihi1").resources.neurons_per_core, check="resources.x",
                     layer="dense0", value=2000, limit=1024, fix="Split the layer.")
    assert certain.severity == "error" and "uncertain" not in certain.source


def test_profile_is_found_by_path_and_through_the_environment(tmp_path, monkeypatch):
    shutil.copy(profiles_dir() / "loihi1.yaml", tmp_path / "mychip.yaml")
    assert load_profile(tmp_path / "mychip.yaml").name == "loihi1"
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert profiles_dir() == tmp_path
    assert [path.stem for path in list_profiles()] == ["mychip"]
    assert load_profile("mychip").resources.cores_per_chip.value == 128
    with pytest.raises(ConfigError, match="unknown hardware profile 'loihi2'.*known: \\['mychip'\\]"):
        load_profile("loihi2")


def _edited(tmp_path, edit):
    raw = yaml.safe_load((profiles_dir() / "loihi1.yaml").read_text())
    edit(raw)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _rename(section, old, new):
    def edit(raw):
        raw[section][new] = raw[section].pop(old)
    return edit


@pytest.mark.parametrize("edit, expected", [
    (lambda raw: raw["timing"].update(frame_rate={"value": 1, "source": "x", "confidence": "code"}),
     "unknown key 'timing.frame_rate'"),
    (_rename("resources", "neurons_per_core", "neurons_per_cor"),
     "unknown key 'resources.neurons_per_cor' (did you mean 'resources.neurons_per_core'?)"),
    (lambda raw: raw["timing"]["t_epoch_steps"].pop("source"), "missing key 'timing.t_epoch_steps.source'"),
    (lambda raw: raw["timing"]["t_epoch_steps"].update(source=""), "timing.t_epoch_steps.source"),
    (lambda raw: raw["resources"]["neurons_per_core"].update(value="many"), "resources.neurons_per_core.value"),
    (lambda raw: raw["resources"]["neurons_per_core"].update(value=1024.5), "resources.neurons_per_core.value"),
    (lambda raw: raw["precision"]["decay"].update(confidence="sure"), "precision.decay.confidence"),
    (lambda raw: raw["precision"]["decay"].update(min=5000), "precision.decay: min=5000 is above max=4095"),
    (lambda raw: raw.pop("support"), "missing key 'support'"),
])
def test_schema_errors_name_the_file_and_the_key(tmp_path, edit, expected):
    path = _edited(tmp_path, edit)
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


@pytest.mark.parametrize("text, expected", [
    ("- just\n- a list\n", "top level is list"),
    ("timing: {step: [\n", "cannot read YAML profile at line"),
])
def test_unreadable_profiles_are_config_errors(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_profile(path)
    with pytest.raises(ConfigError, match="profile file not found"):
        load_profile(tmp_path / "absent.yaml")
