"""`neurodeploy init`: the shipped examples written out in full, and the extras named on a
missing optional package."""
import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from neurodeploy.core.config import ExperimentConfig, load_config
from neurodeploy.core.errors import OutputError
from neurodeploy.app.starter import example_names, profile_names, starter_text, write_starter

REPO = Path(__file__).resolve().parents[1]


def test_the_checkout_examples_are_the_package_data():
    """examples/*.yaml link to neurodeploy/examples/, so both read the same files."""
    assert example_names() == sorted(path.stem for path in (REPO / "examples").glob("*.yaml"))
    for name in example_names():
        assert (REPO / "examples" / f"{name}.yaml").resolve() == REPO / "neurodeploy" / "examples" / f"{name}.yaml"


def _leaf_keys(kind, prefix=""):
    for key, rule in kind.rules.items():
        if rule.kind is not None:
            yield from _leaf_keys(rule.kind, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


@pytest.mark.parametrize("name", example_names())
def test_a_starter_config_is_its_example_with_every_key_documented(name, tmp_path):
    path = write_starter(name, tmp_path)
    assert path == tmp_path / f"{name}.yaml"
    assert load_config(path) == load_config(REPO / "examples" / f"{name}.yaml")
    text = path.read_text()
    raw = yaml.safe_load(text)
    for dotted in _leaf_keys(ExperimentConfig):
        node = raw
        for part in dotted.split("."):
            assert part in node, f"{dotted} missing from the starter {name}"
            node = node[part]
        key = dotted.rsplit(".", 1)[-1]
        indent = "  " * dotted.count(".")
        line = next(line for line in text.splitlines() if line.startswith(f"{indent}{key}:"))
        assert re.search(r"  # default .+: \w", line), f"{dotted}: no default and meaning in {line!r}"


def test_a_starter_keeps_the_defaults_that_follow_other_keys(tmp_path):
    """gap and dassdp.online_batch stay null, so they keep following the hops and the batch size."""
    raw = yaml.safe_load(starter_text("digits"))
    assert raw["encoding"]["gap"] is None and raw["dassdp"]["online_batch"] is None


def test_init_keeps_an_existing_file_unless_forced(tmp_path):
    target = tmp_path / "digits.yaml"
    target.write_text("mine")
    with pytest.raises(OutputError, match="already exists; pass --force"):
        write_starter("digits", tmp_path)
    assert target.read_text() == "mine"
    write_starter("digits", tmp_path, force=True)
    assert load_config(target).name == "digits"


def test_init_copies_a_profile_as_shipped(tmp_path):
    assert profile_names() == ["loihi1", "loihi2"]
    path = write_starter("loihi1", output=tmp_path / "mine" / "mychip.yaml")
    assert path.read_bytes() == (REPO / "neurodeploy" / "hw_configs" / "loihi1.yaml").read_bytes()


def test_init_command_help_names_every_starter_and_refuses_unknown_ones(tmp_path):
    run = lambda *args: subprocess.run([sys.executable, "-m", "neurodeploy.app.cli", *args], capture_output=True,
                                       text=True, timeout=60, cwd=tmp_path)
    help_text = " ".join(run("init", "--help").stdout.split())
    for name in example_names() + profile_names():
        assert name in help_text, f"init --help does not name {name}"
    result = run("init", "digit")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("error: init 'digit': no such example; expected one of "
                                     f"{example_names() + profile_names()}")
    result = run("init", "conv_digits", "sub")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sub" / "conv_digits.yaml").is_file()


def test_the_cli_names_the_extra_of_every_optional_package():
    """OPTIONAL_MODULES and setup.cfg's extras agree (a new extra needs its line in neurodeploy/core/extras.py)."""
    from neurodeploy.core.extras import OPTIONAL_MODULES

    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    extras = parser["options.extras_require"]
    for module, extra in OPTIONAL_MODULES.items():
        assert extra in extras and module in extras[extra], f"{module}: not in the extra {extra}"
    for extra in ("nir", "scale"):
        listed = [re.split(r"[=<>]", line.strip())[0] for line in extras[extra].splitlines() if line.strip()]
        assert set(listed) <= set(OPTIONAL_MODULES), f"{extra}: {listed}"
