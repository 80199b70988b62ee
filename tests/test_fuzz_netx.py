"""Fuzz: malformed ``.net`` files through ``validate`` and ``simulate --backend emulator``.

Each case takes one of three small valid networks (dense, conv, netx Input block), breaks
it once (a dataset deleted or replaced by a hostile value, a layer type renamed, dropped
or moved, the file's bytes flipped or cut) and runs a command on it. Every case ends
cleanly (see ``tests/fuzz_harness.py``); a file broken in a way netx cannot run (a
non-finite weight or neuron parameter, a missing weight or shape, a non-positive size,
empty weights, a truncated file) is refused as unusable input, exit 2, never deployable.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests import netx_factory as nf
from tests.fuzz_harness import HOSTILE_NUMBERS, assert_clean, fuzz_settings, run_cli

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


#: name -> (layers, feed options for simulate, the feed array (N, T, *CHW) or (N, *CHW))
BASES = {"dense": (_dense, "--spikes", (3, 6, 12)), "conv": (_conv, "--spikes", (3, 6, 1, 8, 8)),
         "input": (_input_block, "--bias", (3, 12))}

finite_or_not = st.sampled_from(HOSTILE_NUMBERS)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
arrays = hnp.arrays(np.float64, shapes, elements=st.floats()) | hnp.arrays(np.int64, shapes, elements=st.integers(-300, 300))
values = st.one_of(finite_or_not.map(np.asarray), arrays, st.text(max_size=6).map(lambda t: np.bytes_(t.encode())),
                   st.lists(finite_or_not, min_size=1, max_size=4).map(lambda v: np.asarray(v, dtype=float)))


@st.composite
def broken_networks(draw) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """A base network and one change to it; the change is returned for the verdict."""
    base = draw(st.sampled_from(sorted(BASES)))
    layers = BASES[base][0]()
    action = draw(st.sampled_from(["delete", "set", "set", "set", "type", "drop", "swap", "truncate", "flip"]))
    change: dict[str, Any] = {"action": action}
    index = draw(st.integers(0, len(layers) - 1))
    layer = layers[index]
    keys = [key for key in layer if key != "neuron"] + [f"neuron/{key}" for key in layer.get("neuron", {})]
    if action in ("delete", "set"):
        key = draw(st.sampled_from([key for key in keys if action == "delete" or key != "type"]))
        change.update(kind=layer.get("type"), key=key)
        holder, name = (layer["neuron"], key.split("/")[1]) if key.startswith("neuron/") else (layer, key)
        if action == "delete":
            del holder[name]
        else:
            holder[name] = change["value"] = draw(values)
    elif action == "type":
        layer["type"] = draw(st.sampled_from(["", "pool", "mystery", "dense", "conv", "input", "flatten"])
                             | st.text(max_size=8))
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


def _must_refuse(change: dict[str, Any]) -> bool:
    """Changes that leave a file netx cannot run: these must be exit 2."""
    action, key = change["action"], change.get("key", "")
    kind = change.get("kind")
    if action == "truncate":
        return True
    if action == "delete":
        return key in nf_required(kind)
    if action != "set":
        return False
    value = np.asarray(change["value"])
    numeric = value.dtype.kind in "biuf"
    if key in ("weight", "neuron/vThMant", "neuron/iDecay", "neuron/vDecay") and kind in ("dense", "conv", "input"):
        return (not numeric) or (numeric and value.size > 0 and not np.isfinite(value.astype(float)).all()) \
            or (key == "weight" and kind != "input" and value.size == 0)
    if key == "shape" and kind in ("dense", "conv", "input"):
        return (not numeric) or value.size == 0 or not np.isfinite(value.astype(float)).all() \
            or (value.astype(float) < 1).any()
    return False


def nf_required(kind: str) -> tuple[str, ...]:
    return {"dense": ("weight", "shape"), "conv": ("weight", "shape", "neuron/vThMant", "neuron/iDecay",
                                                   "neuron/vDecay"),
            "input": ("shape", "neuron/vThMant", "neuron/iDecay", "neuron/vDecay")}.get(kind, ())


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
        if _must_refuse(change):
            assert outcome.code == 2, f"{change['action']} {change.get('key')}: {outcome}"
