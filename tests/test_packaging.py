"""The package as a user gets it: build a wheel, install it elsewhere, run it from there.

The wheel is built from a copy of the checkout (so no ``build/`` or ``*.egg-info`` lands in
the shared tree), installed with ``pip install --target``, and then imported and run by
the venv's interpreter under ``-S``: no ``site``, hence no ``.pth`` files and no editable
install finder that would quietly import the checkout instead. ``sys.path`` in those
subprocesses is exactly [cwd (a tmp dir), the wheel's target dir, the venv's
site-packages (for the dependencies), the standard library].

Building needs no network: first ``--no-build-isolation`` with the venv's own setuptools
(enough when it has ``bdist_wheel``, i.e. setuptools >= 70.1 or the ``wheel`` package);
otherwise an isolated build whose backend (setuptools + wheel) pip installs from wheel
files already on this machine (``--no-index --find-links``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable  # the venv's interpreter: its site-packages hold the dependencies

# Folders where this machine keeps wheel files a build backend can be installed from offline.
LOCAL_WHEEL_DIRS = [Path(p) for p in os.environ.get("NEURODEPLOY_WHEEL_DIRS", "").split(os.pathsep) if p] + [
    Path("/opt/pypi/files"), Path("/opt/pypi-more/files"), Path("/opt/wheels"), Path("/usr/share/python-wheels")]
# Messages that mean "no usable build backend here", not "the package does not build".
BACKEND_MISSING = ("invalid command 'bdist_wheel'", "No module named 'setuptools'", "No module named 'wheel'",
                   "Cannot import 'setuptools.build_meta'", "No matching distribution found for setuptools",
                   "No matching distribution found for wheel", "Could not find a version that satisfies")
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__",
                                     "*.pyc", ".hypothesis", ".pytest_cache")

pytestmark = pytest.mark.timeout(180)


def _pip_wheel(source: Path, out: Path, extra: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    return subprocess.run([PYTHON, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), *extra, str(source)],
                          capture_output=True, text=True, timeout=150, env=env)


def _offline_find_links() -> list[str]:
    """``--find-links`` for each local folder that holds a setuptools wheel, provided some
    folder also holds a ``wheel`` wheel."""
    dirs = [d for d in LOCAL_WHEEL_DIRS if d.is_dir()]
    has = lambda d, name: any(d.glob(f"{name}-*.whl"))  # noqa: E731
    if not any(has(d, "setuptools") for d in dirs) or not any(has(d, "wheel") for d in dirs):
        return []
    return [arg for d in dirs for arg in ("--find-links", str(d))]


def _build_wheel(source: Path, out: Path) -> Path:
    attempts = [["--no-build-isolation"]]
    find_links = _offline_find_links()
    if find_links:
        attempts.append(["--no-index", *find_links])
    logs = []
    for extra in attempts:
        result = _pip_wheel(source, out, extra)
        wheels = sorted(out.glob("neurodeploy-*.whl"))
        if result.returncode == 0 and wheels:
            return wheels[-1]
        log = result.stdout + result.stderr
        logs.append(f"$ pip wheel {' '.join(extra)}\n{log[-3000:]}")
        if not any(marker in log for marker in BACKEND_MISSING):
            pytest.fail("the wheel does not build:\n" + logs[-1])
    pytest.skip("no offline build backend (setuptools with bdist_wheel, or setuptools + wheel wheel files) "
                "on this machine:\n" + "\n".join(logs))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(wheel path, target dir it is installed into)."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=COPY_IGNORE, symlinks=True)
    out = root / "dist"
    out.mkdir()
    wheel = _build_wheel(source, out)
    site = root / "site"
    result = subprocess.run([PYTHON, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
                             str(wheel)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return wheel, site


def _isolated(site: Path, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the venv's python with ``-S`` and sys.path = [cwd, site, venv site-packages, stdlib]."""
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "PYTHONINSPECT")}
    env.update(PYTHONPATH=os.pathsep.join([str(site), *deps]), PYTHONNOUSERSITE="1", OMP_NUM_THREADS="1",
               COLUMNS="200")
    return subprocess.run([PYTHON, "-S", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _inside(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def test_wheel_contains_the_chip_profiles(built):
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for profile in ("loihi1.yaml", "loihi2.yaml"):
            member = f"neurodeploy/hw_configs/{profile}"
            assert member in names, f"{member} missing from {wheel.name}"
            assert archive.read(member) == (REPO / "neurodeploy" / "hw_configs" / profile).read_bytes()
        assert "neurodeploy/py.typed" in names
        assert "neurodeploy/cli.py" in names
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "neurodeploy = neurodeploy.cli:main" in archive.read(entry_points).decode()


def test_installed_package_imports_from_the_target_not_the_checkout(built, tmp_path):
    _, site = built
    script = (
        "import json, sys, importlib.metadata as md\n"
        "import neurodeploy, neurodeploy.cli, neurodeploy.hardware.validate\n"
        "files = {n: getattr(m, '__file__', None) for n, m in sys.modules.items() if n.split('.')[0] == 'neurodeploy'}\n"
        "eps = [e.value for e in md.entry_points(group='console_scripts') if e.name == 'neurodeploy']\n"
        "print(json.dumps({'file': neurodeploy.__file__, 'files': files, 'path': sys.path,\n"
        "                  'version': neurodeploy.__version__, 'dist': str(md.distribution('neurodeploy').locate_file('')),\n"
        "                  'eps': eps}))\n")
    result = _isolated(site, tmp_path, "-c", script)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert _inside(info["file"], site), f"neurodeploy imported from {info['file']}, not from {site}"
    from_checkout = {name: file for name, file in info["files"].items() if file and not _inside(file, site)}
    assert not from_checkout, f"modules not from the installed wheel: {from_checkout}"
    assert str(REPO) not in info["path"], info["path"]
    assert info["version"] == _checkout_version()
    assert _inside(info["dist"], site), f"metadata read from {info['dist']}"
    assert "neurodeploy.cli:main" in info["eps"]


def _checkout_version() -> str:
    import configparser

    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    return parser["metadata"]["version"]


def test_installed_cli_lists_the_profiles(built, tmp_path):
    _, site = built
    result = _isolated(site, tmp_path, "-m", "neurodeploy.cli", "profiles")
    assert result.returncode == 0, result.stdout + result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert {"loihi1", "loihi2"} <= listed, result.stdout


def _tiny_net(path: Path) -> Path:
    from tests.netx_factory import write_netx

    weight = 2 * np.random.default_rng(0).integers(-20, 21, size=(10, 64))
    neuron = {"type": "CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 80, "refDelay": 1, "gradedSpike": 0}
    layer = {"type": "dense", "shape": np.array([10]), "inFeatures": 64, "outFeatures": 10,
             "weight": weight.astype(np.int64), "neuron": neuron}
    return write_netx(path, [layer])


def test_installed_cli_validates_outside_the_checkout(built, tmp_path):
    _, site = built
    _tiny_net(tmp_path / "net.net")
    title = yaml.safe_load((REPO / "neurodeploy" / "hw_configs" / "loihi2.yaml").read_text())["title"]
    assert title == "Intel Loihi 2"
    result = _isolated(site, tmp_path, "-m", "neurodeploy.cli", "validate", "net.net", "--hw", "loihi2")
    output = result.stdout + result.stderr
    assert result.returncode in (0, 1), f"exit {result.returncode}:\n{output}"
    assert title in output, output
    assert "Traceback" not in output, output
