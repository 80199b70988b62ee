"""Fuzz: the files ``validate`` reads beside a network: manifests, ``--activity`` files and
hardware profiles, each broken once (a value replaced by a hostile one, a key deleted, the
whole file junk: binary, deeply nested, non-UTF-8, an alias bomb).

Every case ends cleanly (``tests/fuzz_harness.py``); a profile whose count or width a
check divides by (``cores_per_chip: 0``) is refused, exit 2.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from neurodeploy.hardware.profile import profiles_dir
from tests import netx_factory as nf
from tests.fuzz_harness import assert_clean, fuzz_settings, hostile, json_values, run_cli

LOIHI2 = yaml.safe_load((profiles_dir() / "loihi2.yaml").read_text())
#: Profile numbers a check divides by or shifts with: zero or less is unusable.
POSITIVE = ("cores_per_chip", "neurons_per_core", "synapse_memory_bits", "synapse_group_size",
            "synapse_word_bits", "input_axons_per_core", "output_axons_per_core", "chips",
            "weight_bits", "state_bits", "accumulator_bits", "decay_scale", "epoch_time_bits", "trace_bits")

junk_text = st.one_of(
    st.binary(max_size=200).map(lambda raw: ("bytes", raw)),
    st.integers(1, 3000).map(lambda depth: ("text", "a: " + "[" * depth + "]" * depth + "\n")),
    st.integers(1, 3000).map(lambda depth: ("text", "{\"a\": " * depth + "1" + "}" * depth)),
    st.just(("text", "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                     "c: [*b, *b, *b, *b, *b, *b, *b, *b]\n")),
    st.just(("bytes", b"\xff\xfe\x00 name: \x80\x81")),
    st.text(max_size=200).map(lambda text: ("text", text)),
)


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz_inputs")
    path = nf.write_netx(folder / "net.net", [nf.dense_layer(np.full((8, 6), 2.0)), nf.dense_layer(np.full((3, 8), 2.0))])
    nf.write_manifest(path, input_shape=(1, 2, 3))
    return path


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a JSON/YAML tree, leaves and sections alike."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, prefix + (index,))
    return found


@st.composite
def broken_tree(draw, tree: Any) -> tuple[Any, tuple, Any]:
    """A deep copy of ``tree`` with one path replaced (by a hostile or random value) or deleted."""
    tree = json.loads(json.dumps(tree))
    path = draw(st.sampled_from(_paths(tree)))
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.integers(0, 4)) == 0:
        del parent[path[-1]]
        return tree, path, "<deleted>"
    value = draw(hostile | json_values)
    parent[path[-1]] = value
    return tree, path, value


def _write(path: Path, content: Any, dump) -> None:
    if isinstance(content, tuple):
        kind, raw = content
        path.write_bytes(raw) if kind == "bytes" else path.write_text(raw)
    else:
        path.write_text(dump(content))


@fuzz_settings(250)
@given(data=st.data())
def test_broken_manifests_end_cleanly(network, data):
    manifest = json.loads(network.with_name("manifest.json").read_text())
    content = data.draw(st.one_of(broken_tree(manifest).map(lambda case: case[0]), junk_text))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "manifest.json"
        _write(path, content, json.dumps)
        out = Path(folder) / "out"
        assert_clean(run_cli(["validate", network, "--hw", "loihi1", "--manifest", path, "--map", out / "map.json"]), out)


ACTIVITY = {"synaptic_ops_per_sample": 10.0, "neuron_updates_per_sample": 5.0, "spikes_per_sample": 2.0}


@fuzz_settings(200)
@given(data=st.data())
def test_broken_activity_files_end_cleanly(network, data):
    content = data.draw(st.one_of(broken_tree(ACTIVITY).map(lambda case: case[0]),
                                  broken_tree({"activity": ACTIVITY}).map(lambda case: case[0]),
                                  json_values, junk_text))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "activity.json"
        _write(path, content, json.dumps)
        assert_clean(run_cli(["validate", network, "--hw", "loihi1", "--activity", path, "--json"]))


@fuzz_settings(350)
@given(data=st.data())
def test_broken_profiles_end_cleanly(network, data):
    case = data.draw(st.one_of(broken_tree(LOIHI2), junk_text))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chip.yaml"
        _write(path, case if isinstance(case[0], str) else case[0],
               lambda tree: yaml.safe_dump(tree, allow_unicode=True))
        outcome = run_cli(["validate", network, "--hw", path])
        assert_clean(outcome)
        if not isinstance(case[0], str):
            _, key_path, value = case
            zero = isinstance(value, (int, float)) and not isinstance(value, bool) and not value > 0
            if zero and len(key_path) >= 2 and key_path[-1] == "value" and key_path[-2] in POSITIVE:
                assert outcome.code == 2, str(outcome)
