"""The core leg reads the files lava-dl writes, without lava-dl.

``fixtures/slayer/NAME.net`` is lava-dl's own ``export_hdf5`` of each SLAYER builder in
``tests/netx_factory.py`` (default arguments). The core leg's tests read, validate,
emulate and convert these instead of exporting (``netx_factory.stored_without_slayer``);
here, in the Lava leg, each stored file must still equal a fresh export dataset for
dataset and attribute for attribute, so it cannot drift from what lava-dl writes.
Rewrite them with ``python -m tests.test_core_slayer_exports`` (Lava leg).
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests import netx_factory

BUILDERS = ("digits_like", "conv_net", "pool_net", "recurrent_net", "delay_net", "sigma_delta_net")


def _contents(path: Path) -> dict[str, object]:
    """Every dataset's value and every attribute of a file, by HDF5 path."""
    found: dict[str, object] = {}
    with h5py.File(path, "r") as handle:
        def visit(name: str, item: object) -> None:
            for key, value in item.attrs.items():
                found[f"{name}@{key}"] = np.asarray(value)
            if isinstance(item, h5py.Dataset):
                found[name] = np.asarray(item[()])
        handle.visititems(visit)
    return found


def test_every_builder_has_a_stored_export():
    assert sorted(path.stem for path in netx_factory.SLAYER_EXPORTS.glob("*.net")) == sorted(BUILDERS)


@pytest.mark.lava
@pytest.mark.parametrize("name", BUILDERS)
def test_the_stored_export_is_lava_dl_s(tmp_path, name):
    fresh = _contents(getattr(netx_factory, name)(tmp_path / f"{name}.net"))
    stored = _contents(netx_factory.SLAYER_EXPORTS / f"{name}.net")
    assert sorted(fresh) == sorted(stored)
    for key, value in stored.items():
        assert fresh[key].dtype == value.dtype, key
        np.testing.assert_array_equal(fresh[key], value, err_msg=key)


def write_exports() -> None:
    """Export every builder with lava-dl (Lava leg) into fixtures/slayer/."""
    netx_factory.SLAYER_EXPORTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name in BUILDERS:
            built = getattr(netx_factory, name)(Path(scratch) / f"{name}.net")
            shutil.copyfile(built, netx_factory.SLAYER_EXPORTS / f"{name}.net")
            print(f"wrote {netx_factory.SLAYER_EXPORTS / name}.net ({built.stat().st_size} bytes)")


if __name__ == "__main__":
    if not netx_factory.SLAYER_INSTALLED:
        sys.exit("lava-dl is not installed: run this in the Lava leg's venv")
    write_exports()
