"""Fuzz: configs, ``--set`` overrides, data folders and command-line arguments.

Configs and data go through ``neurodeploy check`` (the preflight ``train`` and ``run``
do before importing torch), so no case trains; arguments go to ``simulate`` on the
emulator and to ``validate``, and to the commands added since (``export``,
``import-nir``, ``export-nir``, ``parity-nir``, ``init``, ``compare``, ``parity``) with
inputs that stop them before training or Lava. Every case ends cleanly
(``tests/fuzz_harness.py``).
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

from neurodeploy.core.config import ExperimentConfig
from tests import netx_factory as nf
from tests.fuzz_harness import HOSTILE_VALUES, assert_clean, fuzz_settings, hostile, run_cli

BASE = {"name": "fuzz", "seed": 0, "data": {"dataset": "digits", "limit": 200},
        "train": {"epochs": 1}, "model": {"hidden": [8]}}


def _keys(kind=ExperimentConfig, prefix: str = "") -> list[str]:
    """Every dotted key of the config, sections included."""
    found = []
    for name, rule in kind.rules.items():
        found.append(prefix + name)
        if rule.kind is not None:
            found += _keys(rule.kind, f"{prefix}{name}.")
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


# --- the commands added since: export, import-nir, export-nir, parity-nir, init, compare, parity

@pytest.fixture(scope="module")
def newer(tmp_path_factory) -> dict[str, Path]:
    """A NIR graph (64 inputs, 3 LIF neurons) imported for digits, a junk checkpoint and a
    config that ``compare`` refuses (epochs 0): no case trains or runs Lava."""
    nir = pytest.importorskip("nir")
    folder = tmp_path_factory.mktemp("fuzz_newer")
    graph = folder / "g.nir"
    nir.write(graph, nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([64])), nir.Linear(weight=np.full((3, 64), 0.2)),
        nir.LIF(tau=np.full(3, 4e-3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3),
                v_reset=np.zeros(3)), type_check=False))
    imported = folder / "imported" / "model.net"
    imported.parent.mkdir()
    done = run_cli(["import-nir", graph, "-o", imported, "--dt", "1e-3", "--dataset", "digits", "--check-samples", "0"])
    assert done.code == 0, str(done)
    junk = folder / "checkpoint.pt"
    junk.write_bytes(b"not a checkpoint")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({**BASE, "train": {"epochs": 0}}))
    spikes = folder / "spikes.npy"
    np.save(spikes, np.zeros((2, 4, 64), bool))
    return {"graph": graph, "net": imported, "junk": junk, "config": config, "spikes": spikes}


NEWER = {
    "export": (["export", "{junk}"], ["-o"]),
    "import-nir": (["import-nir", "{graph}", "-o", "x.net"],
                   ["--dt", "--from", "--image-shape", "--dataset", "--encoding", "--steps", "--gap", "--check-samples"]),
    "export-nir": (["export-nir", "{net}", "-o", "x.nir"], ["--dt", "-o"]),
    "parity-nir": (["parity-nir", "{graph}", "{net}"], ["-n", "--timeout", "--json"]),
    "init": (["init"], ["-o", "--force", "NAME", "FOLDER"]),
    "compare": (["compare", "{config}"], ["--encodings", "--seeds", "-o", "--set"]),
    "parity": (["parity", "{net}", "--spikes", "{spikes}", "--checkpoint", "{junk}"],
               ["-n", "--timeout", "--json", "--steps", "--reset-interval", "--layout", "--labels"]),
}
newer_values = option_values | st.sampled_from(["digits", "loihi2", "bogus", "rate", "ttfs", "1,8,8", "0,0,0", "8,8",
                                                "1e-3", "-1e-3", "0", "1e300", "snntorch", "norse", "x.json",
                                                "train.epochs=1", "rate,rate", ",", "a" * 300, "dir/x.net"])


@fuzz_settings(250)
@given(data=st.data())
def test_newer_command_arguments_end_cleanly(newer, data):
    command = data.draw(st.sampled_from(sorted(NEWER)))
    base, options = NEWER[command]
    args = [part.format(**newer) for part in base]
    for option in data.draw(st.lists(st.sampled_from(options), max_size=3)):
        value = data.draw(newer_values)
        if option == "--force":
            args.append(option)
        elif option in ("NAME", "FOLDER"):
            args.append(value)
        else:
            args += [option, value]
    args += data.draw(st.lists(st.sampled_from(["--bogus", "--", "--help", "-n"]), max_size=1))
    with tempfile.TemporaryDirectory() as folder:
        here = os.getcwd()
        os.chdir(folder)  # every relative output lands here, not in the checkout
        try:
            outcome = run_cli(args)
        finally:
            os.chdir(here)
        assert_clean(outcome)
        if command in ("export", "parity", "compare") and "--help" not in args:
            assert outcome.code == 2, str(outcome)  # junk checkpoint, epochs 0: refused, never run
