"""Fuzz: malformed ``.net`` files through ``validate`` and ``simulate --backend emulator``.

Each case takes one of four small valid networks (dense; conv first; a netx Input block;
lava-dl's own layout: an input shape, a conv with a 5-axis kernel, flatten, a dense
layer with a flat weight), breaks it once (a dataset deleted, replaced by a hostile value
or by a group, a layer type renamed, dropped or moved, the file's bytes flipped or cut)
and runs a command on it. Every case ends cleanly (see ``tests/fuzz_harness.py``), and
netx's own builder is the ground truth for every one: a case neurodeploy accepts (exit
0: deployable, or emulated) is a file ``netx.hdf5.Network`` builds (``tests/netx_oracle.py``,
in a child process, since a malformed file can crash Lava).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests import netx_factory as nf
from tests.fuzz_harness import HOSTILE_NUMBERS, assert_clean, fuzz_settings, record, run_cli
from tests.netx_oracle import first_conv_input, shared

pytestmark = pytest.mark.lava  # netx's own builder (lava-dl) is the oracle

EXAMPLES = 700


def _dense() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    return [nf.dense_layer(2 * rng.integers(-20, 21, (16, 12))), nf.dense_layer(2 * rng.integers(-20, 21, (4, 16)))]


def _conv() -> list[dict[str, Any]]:
    rng = np.random.default_rng(1)
    return [nf.conv_layer(2 * rng.integers(-20, 21, (2, 1, 3, 3)), (2, 4, 4), stride=2, padding=1),
            nf.raw_layer("flatten", [32, 1, 1]), nf.dense_layer(2 * rng.integers(-20, 21, (3, 32)))]


def _input_block() -> list[dict[str, Any]]:
    rng = np.random.default_rng(2)
    return [nf.raw_layer("input", [12], neuron=nf.cuba_neuron()),
            nf.dense_layer(2 * rng.integers(-20, 21, (5, 12)))]


def _lavadl_layout() -> list[dict[str, Any]]:
    """As lava-dl's ``tiny.net`` and PilotNet store them: a 5-axis kernel, a dense shape
    ``[n, 1, 1]`` and a flat dense weight."""
    rng = np.random.default_rng(3)
    conv = nf.conv_layer(2 * rng.integers(-20, 21, (2, 1, 3, 3)), (2, 4, 4), stride=2, padding=1)
    dense = nf.dense_layer(2 * rng.integers(-20, 21, (3, 32)))
    return [nf.raw_layer("input", [1, 8, 8]), {**conv, "weight": conv["weight"][..., None]},
            nf.raw_layer("flatten", [32, 1, 1]),
            {**dense, "shape": np.array([3, 1, 1]), "weight": dense["weight"].reshape(-1)}]


#: name -> (layers, feed options for simulate, the feed array (N, T, *CHW) or (N, *CHW))
BASES = {"dense": (_dense, "--spikes", (3, 6, 12)), "conv": (_conv, "--spikes", (3, 6, 1, 8, 8)),
         "input": (_input_block, "--bias", (3, 12)), "lavadl": (_lavadl_layout, "--spikes", (3, 6, 1, 8, 8))}

finite_or_not = st.sampled_from(HOSTILE_NUMBERS)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
arrays = hnp.arrays(np.float64, shapes, elements=st.floats()) | hnp.arrays(np.int64, shapes, elements=st.integers(-300, 300))
values = st.one_of(finite_or_not.map(np.asarray), arrays, st.text(max_size=6).map(lambda t: np.bytes_(t.encode())),
                   st.lists(finite_or_not, min_size=1, max_size=4).map(lambda v: np.asarray(v, dtype=float)),
                   st.lists(st.integers(-3, 40), min_size=1, max_size=4).map(np.asarray),
                   st.dictionaries(st.sampled_from(["real", "imag", "x"]), arrays, max_size=2))


@st.composite
def broken_networks(draw) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """A base network and one change to it; the change is returned for the message."""
    base = draw(st.sampled_from(sorted(BASES)))
    layers = BASES[base][0]()
    action = draw(st.sampled_from(["delete", "set", "set", "set", "type", "drop", "swap", "truncate", "flip"]))
    change: dict[str, Any] = {"action": action}
    index = draw(st.integers(0, len(layers) - 1))
    layer = layers[index]
    keys = list(layer) + [f"neuron/{key}" for key in layer.get("neuron", {})]
    if action in ("delete", "set"):
        key = draw(st.sampled_from([key for key in keys if action == "delete" or key != "type"]))
        change.update(layer=index, key=key)
        holder, name = (layer["neuron"], key.split("/")[1]) if key.startswith("neuron/") else (layer, key)
        if action == "delete":
            del holder[name]
        else:
            holder[name] = draw(values)
            change["value"] = repr(holder[name])[:80]
    elif action == "type":
        layer["type"] = draw(st.sampled_from(["", "pool", "mystery", "dense", "conv", "input", "flatten"])
                             | st.text(max_size=8))
        change.update(layer=index, value=layer["type"])
    elif action == "drop" and len(layers) > 1:
        layers.pop(index)
    elif action == "swap" and len(layers) > 1:
        layers[0], layers[-1] = layers[-1], layers[0]
    elif action in ("truncate", "flip"):
        change["at"] = draw(st.floats(0.0, 0.999))
        change["bytes"] = draw(st.lists(st.integers(0, 255), min_size=1, max_size=16))
    return base, layers, change


def _write(folder: Path, layers: list[dict[str, Any]], change: dict[str, Any]) -> Path:
    path = nf.write_netx(folder / "net.net", layers)
    if change["action"] in ("truncate", "flip"):
        raw = bytearray(path.read_bytes())
        at = int(change["at"] * len(raw))
        if change["action"] == "truncate":
            raw = raw[:at]
        else:
            raw[at:at + len(change["bytes"])] = bytes(change["bytes"])
        path.write_bytes(bytes(raw))
    return path


def assert_netx_builds(path: Path, what: str) -> None:
    """netx's builder is the ground truth for a file neurodeploy accepted."""
    verdict = shared().build(path, first_conv_input(path))
    record("netx-builds", int(verdict.built))
    assert verdict.built, f"{what}: accepted, but netx cannot build it ({verdict.error})"


@fuzz_settings(EXAMPLES)
@given(case=broken_networks(), json_out=st.booleans(), simulate=st.integers(0, 3))
def test_broken_networks_end_cleanly_and_are_never_deployable(case, json_out, simulate):
    base, layers, change = case
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        out = folder / "out"
        try:
            path = _write(folder, layers, change)
        except (TypeError, ValueError):
            return  # h5py cannot even write this value: nothing to read
        if simulate == 0:
            feed_option, feed_shape = BASES[base][1], BASES[base][2]
            feed = folder / "feed.npy"
            data = np.random.default_rng(0).random(feed_shape) < 0.3 if feed_option == "--spikes" \
                else np.random.default_rng(0).integers(0, 40, feed_shape)
            np.save(feed, data)
            args = ["simulate", path, feed_option, feed, "--steps", 6, "--backend", "emulator"]
            args += ["--json", out / "metrics.json"] if json_out else []
        else:
            args = ["validate", path, "--hw", "loihi2"] + (["--json"] if json_out else ["--map", out / "map.json"])
        outcome = run_cli(args)
        assert_clean(outcome, out)
        if outcome.code == 0:
            assert_netx_builds(path, f"{base} {change}: {' '.join(outcome.args[:1])}")


def test_the_oracle_tells_built_from_broken(tmp_path):
    """The ground truth can fail: every base builds, and a conv without ``groups`` (one of
    issue 24's deployable files) does not."""
    for name, (make, _, _) in BASES.items():
        path = nf.write_netx(tmp_path / f"{name}.net", make())
        assert shared().build(path, first_conv_input(path)).built, name
    conv = _conv()
    del conv[0]["groups"]
    broken = nf.write_netx(tmp_path / "no_groups.net", conv)
    verdict = shared().build(broken, (8, 8, 1))
    assert not verdict.built and "groups" in verdict.error
