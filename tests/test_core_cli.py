"""The core install without Lava: what runs, and what says it needs the [lava] extra.

Both legs run these. Lava's absence is simulated: ``importlib.util.find_spec('lava')``
returns None (what the commands look up first), and in a child interpreter
(:data:`NO_LAVA`, used on the installed wheel by ``test_packaging.py``) an import hook
also refuses every ``lava`` module, so a command that still reached Lava would fail.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from neurodeploy.app.cli import main
from tests import netx_factory as nf

LAVA_LINE = ("needs the optional package 'lava': pip install 'neurodeploy[lava]' "
             "(Python 3.10: lava-nc 0.10.0 and lava-dl 0.6.0 install on no other)")
#: What a Lava run (simulate, parity without --checkpoint) adds: Lava may run in another interpreter.
WORKER_ALTERNATIVE = ", or set NEURODEPLOY_LAVA_PYTHON to the python of an environment that has it"


@pytest.fixture
def no_lava(monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, package=None):
        return None if name.partition(".")[0] == "lava" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.delenv("NEURODEPLOY_LAVA_PYTHON", raising=False)


@pytest.mark.parametrize("argv, what", [
    (["train", "missing.yaml"], "train"),
    (["run", "missing.yaml"], "run"),
    (["export", "missing.pt", "-o", "out.net"], "export"),
    (["compare", "missing.yaml"], "compare"),
    (["parity", "missing.net"], "parity"),
    (["parity", "missing.net", "--checkpoint", "missing.pt"], "parity"),
    (["simulate", "missing.net"], "simulate --backend lava (the default)"),
    (["simulate", "missing.net", "--backend", "lava"], "simulate --backend lava (the default)"),
])
def test_a_command_that_needs_lava_says_so_first_in_one_line(no_lava, tmp_path, monkeypatch, capsys, argv, what):
    """The files do not exist: an error about them would mean the command did work first."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    runs_lava_only = argv[0] in ("simulate", "parity") and "--checkpoint" not in argv
    assert captured.err.splitlines() == [f"error: {what} {LAVA_LINE}" + (WORKER_ALTERNATIVE if runs_lava_only else "")
                                         + ("; --backend emulator runs without it" if argv[0] == "simulate" else "")]
    assert list(tmp_path.iterdir()) == []


#: A child interpreter in which no ``lava`` module can be imported or found; it runs each
#: command line of the JSON list in argv[1] and writes their exit codes to argv[2].
NO_LAVA = """
import importlib.abc, importlib.util, json, sys
class NoLava(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "lava":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoLava())
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: None if name.partition(".")[0] == "lava" else real(name, package)
from neurodeploy.app.cli import main
codes = []
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
        codes.append(0)
    except SystemExit as exit_:
        codes.append(exit_.code)
open(sys.argv[2], "w").write(json.dumps(codes))
"""


def check_core_commands(folder: Path, run: Callable[..., subprocess.CompletedProcess]) -> None:
    """validate, simulate --backend emulator, export-nir and import-nir succeed with no Lava
    importable (``run(*args)`` starts :data:`NO_LAVA` with ``args``); the network read back
    from its NIR graph gives the same output counts; simulate on Lava is the one-line error."""
    weight = 2 * np.random.default_rng(0).integers(-20, 21, size=(10, 64))
    net = nf.write_netx(folder / "net.net", [nf.dense_layer(weight.astype(np.int64), nf.cuba_neuron(vThMant=80))])
    spikes = folder / "spikes.npy"
    np.save(spikes, np.random.default_rng(1).random((4, 12, 64)) < 0.3)
    (folder / "back").mkdir()
    back = folder / "back" / "net.net"
    simulate = ["simulate", "--spikes", str(spikes), "--steps", "12"]
    commands = [["validate", str(net), "--hw", "loihi2", "--json", str(folder / "v.json")],
                ["export-nir", str(net), "-o", str(folder / "net.nir"), "--dt", "0.001"],
                ["import-nir", str(folder / "net.nir"), "-o", str(back)],
                [*simulate, str(net), "--backend", "emulator", "--save-output", str(folder / "exported.npz")],
                [*simulate, str(back), "--backend", "emulator", "--save-output", str(folder / "imported.npz")],
                [*simulate, str(net)]]
    done = run(json.dumps(commands), str(folder / "codes.json"))
    assert done.returncode == 0, done.stderr
    assert json.loads((folder / "codes.json").read_text()) == [0, 0, 0, 0, 0, 2], done.stdout + done.stderr
    assert json.loads((folder / "v.json").read_text())["verdict"] == "deployable"
    exported, imported = (np.load(folder / f"{name}.npz")["output_counts"] for name in ("exported", "imported"))
    assert exported.sum() > 0
    np.testing.assert_array_equal(imported, exported)
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == ("error: simulate --backend lava (the default) " + LAVA_LINE
                                                    + WORKER_ALTERNATIVE + "; --backend emulator runs without it"), done.stderr
