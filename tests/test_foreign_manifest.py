"""A ``.net`` beside a manifest written for another network: never fed that manifest in
silence. ``validate`` (which needs no manifest) ignores it with a warning finding that
names both files; ``export-nir`` and ``parity-nir`` (which would take its dt, scales, data
and schedule) refuse in one line naming it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.core.errors import NeurodeployError
from neurodeploy.hardware.validate import validate_file
from neurodeploy.interop.files import read_netx_float
from tests import netx_factory as nf
from tests.fuzz_harness import assert_clean, run_cli


@pytest.fixture
def folder(tmp_path) -> Path:
    """``model.net`` with its manifest, and ``foreign.net`` (the same layers) beside them."""
    net = nf.write_netx(tmp_path / "model.net", [nf.dense_layer(np.full((8, 6), 2.0)), nf.dense_layer(np.full((3, 8), 2.0))])
    nf.write_manifest(net, input_shape=(1, 2, 3))
    shutil.copy(net, tmp_path / "foreign.net")
    return tmp_path


def test_validate_ignores_another_networks_manifest_with_a_warning(folder):
    own = validate_file(folder / "model.net", "loihi2")
    assert own.manifest == str(folder / "manifest.json") and not own.by_check("manifest.other_network")
    report = validate_file(folder / "foreign.net", "loihi2")
    assert report.manifest is None and report.by_check("timing.no_schedule")
    [ignored] = report.by_check("manifest.other_network")
    assert ignored.severity == "warning" and (ignored.value, ignored.limit) == ("model.net", "foreign.net")
    assert f"{folder / 'manifest.json'} describes model.net, not foreign.net: ignored" in ignored.fix
    severities = [finding.severity for finding in report.findings]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)


def test_validate_cli_shows_the_ignored_manifest(folder):
    outcome = run_cli(["validate", folder / "foreign.net", "--hw", "loihi2", "--json"])
    assert outcome.code == 0, str(outcome)
    checks = {finding["check"]: finding for finding in json.loads(outcome.stdout)["findings"]}
    assert checks["manifest.other_network"]["value"] == "model.net"


def test_export_nir_refuses_another_networks_manifest(folder):
    with pytest.raises(NeurodeployError, match=r"manifest.json: describes 'model.net', not foreign.net; .*"
                                               r"or move the manifest away and pass --dt"):
        read_netx_float(folder / "foreign.net", dt=1e-3)
    read_netx_float(folder / "model.net", dt=1e-3)  # its own manifest: read


def test_parity_nir_refuses_another_networks_manifest_and_a_missing_one(folder, tmp_path_factory):
    graph = folder / "g.nir"
    graph.write_bytes(b"never read: the manifest is checked first")
    outcome = run_cli(["parity-nir", graph, folder / "foreign.net"])
    assert_clean(outcome, codes=(2,))
    line = outcome.stderr.strip()
    assert "\n" not in line and "manifest.json: describes 'model.net', not foreign.net" in line, line
    alone = tmp_path_factory.mktemp("alone") / "model.net"
    shutil.copy(folder / "model.net", alone)
    outcome = run_cli(["parity-nir", graph, alone])
    assert_clean(outcome, codes=(2,))
    assert f"{alone}: no manifest beside it" in outcome.stderr, str(outcome)
