"""Fuzz: configs, ``--set`` overrides, data folders and command-line arguments.

Configs and data go through ``neurodeploy check`` (the preflight ``train`` and ``run``
do before importing torch), so no case trains; arguments go to ``simulate`` on the
emulator and to ``validate``. Every case ends cleanly (``tests/fuzz_harness.py``).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from neurodeploy.config import ExperimentConfig
from tests import netx_factory as nf
from tests.fuzz_harness import HOSTILE_VALUES, assert_clean, fuzz_settings, hostile, run_cli

BASE = {"name": "fuzz", "seed": 0, "data": {"dataset": "digits", "limit": 200},
        "train": {"epochs": 1}, "model": {"hidden": [8]}}


def _keys(model=ExperimentConfig, prefix: str = "") -> list[str]:
    """Every dotted key of the config, sections included."""
    found = []
    for name, field in model.model_fields.items():
        found.append(prefix + name)
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            found += _keys(annotation, f"{prefix}{name}.")
    return found


KEYS = _keys()
dotted = st.sampled_from(KEYS) | st.sampled_from(KEYS).map(lambda key: key + "x") \
    | st.text(alphabet="abcxyz._0", min_size=1, max_size=12)


yaml_scalars = st.sampled_from(["1", "-1", "0", "2**70", "1e400", ".nan", ".inf", "[1, 2]", "{a: 1}", "null",
                                "true", "''", "[", "*a", "&a 1", "x" * 300, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]",
                                "3", "0.5", "999999999999999999999", "loihi9", "[loihi9]", "digits", "folder"])


@st.composite
def configs(draw) -> tuple[dict, list[str]]:
    config = yaml.safe_load(yaml.safe_dump(BASE))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        key = draw(dotted)
        node = config
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and parts[-1]:
            node[parts[-1]] = draw(hostile | st.integers(-5, 5000) | st.floats(-2, 2))
    sets = [f"{draw(dotted)}={draw(yaml_scalars)}" for _ in range(draw(st.sampled_from([0, 0, 1, 2])))]
    sets += draw(st.lists(st.sampled_from(["=1", "a", "train.epochs", "seed.x=1", "name.a.b=1",
                                           "encoding.temporal_steps=100000", "encoding.gap=1180591620717411303424",
                                           "data.test_fraction=0.001", "data.test_fraction=0.999",
                                           "model.conv=[{channels: 2, kernel: 30}]", "hardware=[loihi9]"]),
                          max_size=1))
    return config, sets


@fuzz_settings(300)
@given(case=configs())
def test_configs_and_overrides_end_cleanly(case):
    config, sets = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        try:
            path.write_text(yaml.safe_dump(config))
        except (yaml.YAMLError, ValueError):
            return
        out = Path(folder) / "run"
        args = ["check", path, "-o", out] + [item for pair in sets for item in ("--set", pair)]
        outcome = run_cli(args)
        assert_clean(outcome, out, codes=(0, 2))
        if outcome.code == 0:
            assert not any(out.rglob("*")), "check wrote something into the run folder"


@st.composite
def image_folders(draw, root: Path) -> Path:
    """An image-folder data set: classes with random sizes, counts, modes and non-images."""
    from PIL import Image

    folder = root / "images"
    for label in range(draw(st.integers(0, 3))):
        class_dir = folder / f"class{label}"
        class_dir.mkdir(parents=True)
        for index in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["L", "RGB", "I;16", "text", "bytes"]))
            side = draw(st.sampled_from([4, 4, 4, 5, 1]))
            target = class_dir / f"{index}.png"
            if kind == "text":
                target.write_text("not an image")
            elif kind == "bytes":
                target.write_bytes(draw(st.binary(max_size=40)))
            else:
                Image.fromarray(np.full((side, side, 3) if kind == "RGB" else (side, side), 7,
                                        dtype=np.uint16 if kind == "I;16" else np.uint8)).save(target)
    folder.mkdir(exist_ok=True)
    return folder


@fuzz_settings(120)
@given(data=st.data())
def test_data_folders_end_cleanly(data):
    with tempfile.TemporaryDirectory() as root:
        root = Path(root)
        folder = data.draw(image_folders(root))
        fraction = data.draw(st.sampled_from([0.2, 0.5, 0.001, 0.999]))
        config = {**BASE, "data": {"dataset": "folder", "path": str(folder), "test_fraction": fraction}}
        path = root / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        out = root / "run"
        assert_clean(run_cli(["check", path, "-o", out]), out, codes=(0, 2))


@pytest.fixture(scope="module")
def small_net(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("fuzz_args")
    net = nf.write_netx(folder / "net.net", [nf.dense_layer(np.full((8, 6), 2.0)), nf.dense_layer(np.full((3, 8), 2.0))])
    spikes = folder / "spikes.npy"
    np.save(spikes, np.random.default_rng(0).random((4, 5, 6)) < 0.3)
    np.save(folder / "labels.npy", np.array([0, 1, 2, 1]))
    return net, spikes


option_values = st.sampled_from([str(value) for value in HOSTILE_VALUES if not isinstance(value, (list, dict))]
                                + ["5", "5", "2", "1", "-5", "0", "1e6", "1e7", "inf", "-inf", "nan", "none", "chw", "whc", "-1"])
simulate_options = st.sampled_from(["-n", "--timeout", "--exit-threshold", "--steps", "--reset-interval",
                                    "--layout", "--labels", "--save-output", "--json", "--bias"])


@fuzz_settings(250)
@given(options=st.lists(st.tuples(simulate_options, option_values), max_size=3), validate=st.booleans(),
       extra=st.lists(st.sampled_from(["--bogus", "-x", "--", "--hw", "loihi1", "loihi9", "--help"]), max_size=1))
def test_command_line_arguments_end_cleanly(small_net, options, validate, extra):
    net, spikes = small_net
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        files = {"--labels": net.with_name("labels.npy"), "--save-output": out / "o.npz", "--json": out / "m.json"}
        flat = [item for option, value in options
                for item in (option, files.get(option, value) if value in ("5", "x" * 5000) else value)]
        if validate:
            args = ["validate", net, "--hw", "loihi2", *extra, *[item for item in flat if item not in ("--steps",)][:2]]
        else:
            args = ["simulate", net, "--spikes", spikes, "--backend", "emulator", *flat, *extra]
        here = os.getcwd()
        os.chdir(folder)  # a fuzzed value given as an output path lands here, not in the checkout
        try:
            outcome = run_cli(args)
        finally:
            os.chdir(here)
        assert_clean(outcome, out)
