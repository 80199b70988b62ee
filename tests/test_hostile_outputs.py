"""Outputs go only to regular files or new names in folders that exist: a device node, a
FIFO or a directory given as any output is refused before any work (exit 2, one line)
and is still what it was afterwards; a missing folder is not created. Device nodes are
made in a temporary folder (``mknod`` needs root; without it those cases are skipped,
FIFOs and directories still run)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from neurodeploy.core.atomic import atomic_path, check_output
from neurodeploy.core.errors import OutputError
from tests.fuzz_harness import assert_clean, command_files, run_cli

CONFIG = {"name": "out", "seed": 0, "data": {"dataset": "digits", "limit": 200}, "train": {"epochs": 1},
          "model": {"hidden": [8]}}
#: Major/minor numbers of Linux's /dev/null and /dev/full.
DEVICES = {"null": (1, 3), "full": (1, 7)}


def special(folder: Path, what: str, name: str) -> Path:
    """A node of kind ``what`` named ``name`` in ``folder``."""
    path = folder / name
    if what in DEVICES:
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(*DEVICES[what]))
        except PermissionError:
            pytest.skip("mknod needs root")
    elif what == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    return path


def _kind(path: Path) -> int:
    return stat.S_IFMT(os.lstat(path).st_mode)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return command_files(tmp_path_factory.mktemp("hostile_outputs"), CONFIG)


#: Every output option: (command line with OUT where the output goes, file name to use).
FILE_OUTPUTS = {
    "validate --map": (["validate", "{net}", "--hw", "loihi2", "--map", "OUT"], "map.json"),
    "validate --plot": (["validate", "{net}", "--hw", "loihi2", "--plot", "OUT"], "map.png"),
    "simulate --json": (["simulate", "{net}", "--spikes", "{spikes}", "--backend", "emulator", "--json", "OUT"], "m.json"),
    "simulate --save-output": (["simulate", "{net}", "--spikes", "{spikes}", "--backend", "emulator",
                                "--save-output", "OUT"], "o.npz"),
    "parity --json": (["parity", "{net}", "--spikes", "{spikes}", "--json", "OUT"], "p.json"),
    "export -o": (["export", "{config}", "-o", "OUT"], "other.net"),
    "import-nir -o": (["import-nir", "{graph}", "-o", "OUT", "--dt", "1e-3"], "model.net"),
    "export-nir -o": (["export-nir", "{net}", "-o", "OUT", "--dt", "1e-3"], "model.nir"),
    "parity-nir --json": (["parity-nir", "{graph}", "{net}", "--json", "OUT"], "f.json"),
    "init -o": (["init", "digits", "-o", "OUT", "--force"], "digits.yaml"),
}
FOLDER_OUTPUTS = {
    "check -o": ["check", "{config}", "-o", "OUT"],
    "train -o": ["train", "{config}", "-o", "OUT"],
    "run -o": ["run", "{config}", "-o", "OUT"],
    "compare -o": ["compare", "{config}", "--seeds", "1", "--encodings", "rate", "-o", "OUT"],
}


#: Commands that stop at once without Lava (the core leg), before looking at their outputs.
NEEDS_LAVA = {"train", "run", "export", "parity", "compare"}


def _options(options) -> list:
    return [pytest.param(option, marks=pytest.mark.lava) if option.split()[0] in NEEDS_LAVA else option
            for option in sorted(options)]


def _args(template: list[str], inputs: dict[str, Path], out: Path) -> list[str]:
    return [str(out) if part == "OUT" else part.format(**inputs) for part in template]


def _refused(outcome, node: Path, kind: int, folder: Path) -> None:
    assert outcome.code == 2, str(outcome)
    assert_clean(outcome)
    assert _kind(node) == kind, f"{node} was replaced"
    left = sorted(path.name for path in folder.iterdir() if path != node)
    assert not left, (str(outcome), left)


@pytest.mark.parametrize("what", ["null", "full", "fifo", "directory"])
@pytest.mark.parametrize("option", _options(FILE_OUTPUTS))
def test_no_file_output_replaces_a_special_file(tmp_path, inputs, option, what):
    template, name = FILE_OUTPUTS[option]
    node = special(tmp_path, what, name)
    kind = _kind(node)
    outcome = run_cli(_args(template, inputs, node), timeout_s=60)
    _refused(outcome, node, kind, tmp_path)
    if what != "directory":  # click itself refuses a directory for a file option, in its words
        assert "replaces only a regular file" in outcome.stderr, str(outcome)


@pytest.mark.parametrize("what", ["null", "fifo"])
@pytest.mark.parametrize("option", sorted(FOLDER_OUTPUTS))
def test_no_run_folder_is_a_special_file(tmp_path, inputs, option, what):
    node = special(tmp_path, what, "run")
    kind = _kind(node)
    _refused(run_cli(_args(FOLDER_OUTPUTS[option], inputs, node), timeout_s=60), node, kind, tmp_path)


@pytest.mark.lava
@pytest.mark.parametrize("name", ["model.net", "manifest.json", "checkpoint.pt", "metrics.json"])
def test_a_run_folder_holding_a_device_under_a_run_file_name_is_refused(tmp_path, inputs, name):
    run = tmp_path / "run"
    run.mkdir()
    node = special(run, "null", name)
    outcome = run_cli(["train", inputs["config"], "-o", run], timeout_s=60)
    assert outcome.code == 2 and "character device" in outcome.stderr, str(outcome)
    assert _kind(node) == stat.S_IFCHR
    assert [path.name for path in run.iterdir()] == [name]


@pytest.mark.parametrize("option", _options(set(FILE_OUTPUTS) - {"init -o"}))  # init makes the folder it is given
def test_missing_folders_are_not_created(tmp_path, inputs, option):
    template, name = FILE_OUTPUTS[option]
    outcome = run_cli(_args(template, inputs, tmp_path / "nonexistent" / "dir" / name), timeout_s=60)
    assert outcome.code == 2 and "does not exist" in outcome.stderr, str(outcome)
    assert_clean(outcome)
    assert not (tmp_path / "nonexistent").exists()


def test_the_atomic_writer_itself_refuses_special_files_and_missing_folders(tmp_path):
    """The last line: a write that skipped the early check still replaces nothing special."""
    for what in ("null", "fifo", "directory"):
        node = special(tmp_path, what, f"x-{what}")
        kind = _kind(node)
        with pytest.raises(OutputError, match="replaces only a regular file"):
            with atomic_path(node) as temporary:
                temporary.write_text("payload")
        assert _kind(node) == kind
    with pytest.raises(OutputError, match="does not exist"):
        with atomic_path(tmp_path / "missing" / "x.json") as temporary:
            temporary.write_text("payload")
    assert not (tmp_path / "missing").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["x-directory", "x-fifo", "x-null"]


def test_regular_files_and_new_names_are_written(tmp_path):
    existing = tmp_path / "old.json"
    existing.write_text("{}")
    for target in (existing, tmp_path / "new.json"):
        check_output(target)
        with atomic_path(target) as temporary:
            temporary.write_text("[1]")
        assert target.read_text() == "[1]"


def test_a_file_name_too_long_for_its_temporary_twin_is_one_line(tmp_path, inputs):
    long = tmp_path / ("m" * 250 + ".json")
    outcome = run_cli(["simulate", inputs["net"], "--spikes", inputs["spikes"], "--backend", "emulator",
                       "--json", long])
    assert outcome.code == 2 and "file name is 255 bytes" in outcome.stderr, str(outcome)
    assert_clean(outcome)
    assert not any(tmp_path.iterdir())
