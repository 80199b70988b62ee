"""Shared fixtures (a small trained-and-exported digits run, made once per session) and the
two legs of the suite.

The Lava leg (Python 3.10, lava-nc and lava-dl installed) runs every test. The core leg
(``NEURODEPLOY_CORE_LEG=1``, Python 3.11+ without Lava) deselects the tests marked
``lava`` and those that use a fixture in ``LAVA_FIXTURES``, and says so in the header;
without that variable, a missing Lava is an error, never a quietly shorter suite. There the
SLAYER test networks are lava-dl's own exports, stored (``tests/netx_factory.py``).
"""
import importlib.util
import os
from pathlib import Path

import pytest
import yaml

LAVA_INSTALLED = importlib.util.find_spec("lava") is not None
CORE_LEG = os.environ.get("NEURODEPLOY_CORE_LEG") == "1"
# Test modules that import Lava or SLAYER when they are imported.
LAVA_MODULES = ("test_dassdp.py", "test_dassdp_lava.py", "test_export.py")
# Fixtures that train with SLAYER, build its networks, or ask netx to build a file.
LAVA_FIXTURES = {"small_run", "checkpoint_state", "oracle"}

collect_ignore = list(LAVA_MODULES) if CORE_LEG and not LAVA_INSTALLED else []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lava: needs lava-nc / lava-dl (the Python 3.10 leg only)")
    if not LAVA_INSTALLED and not CORE_LEG:
        raise pytest.UsageError("lava-nc is not installed: run the Lava leg in the Python 3.10 venv "
                                "(make test), or the core suite with NEURODEPLOY_CORE_LEG=1 (make test-core)")


def pytest_report_header(config: pytest.Config) -> str:
    if CORE_LEG and not LAVA_INSTALLED:
        return (f"core leg: no Lava; modules not collected: {', '.join(LAVA_MODULES)}; "
                f"tests marked 'lava' or using {sorted(LAVA_FIXTURES)} deselected")
    return "Lava leg: every test"


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _slow_first(items)
    if LAVA_INSTALLED or not CORE_LEG:
        return
    needs_lava = [item for item in items
                  if item.get_closest_marker("lava") or LAVA_FIXTURES & set(getattr(item, "fixturenames", ()))]
    if needs_lava:
        config.hook.pytest_deselected(items=needs_lava)
        items[:] = [item for item in items if item not in needs_lava]


def _slow_first(items: list) -> None:
    """Under pytest-xdist (``make test`` runs ``-n 2``) the slow tests are handed out first,
    so that the workers share the long ones and fill in with the short ones, instead of one
    worker starting a four-minute Lava run when the rest is done. Stable: the order within
    each kind stays the files' order (every worker collects the same list)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)

SMALL_RUN = {"name": "small", "seed": 0, "data": {"dataset": "digits", "limit": 400},
             "train": {"epochs": 3}, "model": {"hidden": [32]}, "simulate": {"samples": 40, "timeout_s": 120}}


def write_config(folder: Path, config: dict, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """Train + export a 64-32-10 network on 400 digits (seconds); returns (TrainedRun, config path)."""
    from neurodeploy.app.train_export import train_and_export

    folder = tmp_path_factory.mktemp("small_run")
    config = write_config(folder, {**SMALL_RUN, "output": str(folder / "run")})
    return train_and_export(str(config)), config
