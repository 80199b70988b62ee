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

COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__",
                                     "*.pyc", ".hypothesis", ".pytest_cache")

pytestmark = pytest.mark.timeout(180)


def _pip_wheel(source: Path, out: Path, extra: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    return subprocess.run([PYTHON, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), *extra, str(source)],
                          capture_output=True, text=True, timeout=150, env=env)


def _build_wheel(source: Path, out: Path) -> Path:
    """Build without network: the test extra installs ``wheel`` beside setuptools."""
    result = _pip_wheel(source, out, ["--no-build-isolation"])
    wheels = sorted(out.glob("neurodeploy-*.whl"))
    if result.returncode != 0 or not wheels:
        pytest.fail("the wheel does not build:\n" + (result.stdout + result.stderr)[-3000:])
    return wheels[-1]


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


#: The top-level packages of the optional extras (setup.cfg's nir and scale), hidden from a
#: "no extras" install.
EXTRA_PACKAGES = ("nir", "nirtorch", "snntorch", "ray")


@pytest.fixture(scope="module")
def no_extras(tmp_path_factory) -> Path:
    """The venv's site-packages as links, less the extras' packages: an install without extras."""
    folder = tmp_path_factory.mktemp("deps_no_extras")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        top = entry.name.split("-")[0].split(".")[0].lower()
        if top not in EXTRA_PACKAGES:
            (folder / entry.name).symlink_to(entry)
    return folder


def _isolated(site: Path, cwd: Path, *args: str, timeout: float = 120,
              deps_folder: Path | None = None, **variables: str) -> subprocess.CompletedProcess:
    """Run the venv's python with ``-S`` and sys.path = [cwd, site, venv site-packages, stdlib]."""
    deps = ([str(deps_folder)] if deps_folder is not None else
            dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "PYTHONINSPECT")}
    env.update(PYTHONPATH=os.pathsep.join([str(site), *deps]), PYTHONNOUSERSITE="1", OMP_NUM_THREADS="1",
               COLUMNS="200", **variables)
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
        for example in sorted((REPO / "examples").glob("*.yaml")):
            member = f"neurodeploy/examples/{example.name}"
            assert member in names, f"{member} missing from {wheel.name}"
            assert archive.read(member) == example.read_bytes()
        assert "neurodeploy/app/cli.py" in names
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "neurodeploy = neurodeploy.app.cli:main" in archive.read(entry_points).decode()


def test_installed_package_imports_from_the_target_not_the_checkout(built, tmp_path):
    _, site = built
    script = (
        "import json, sys, importlib.metadata as md\n"
        "import neurodeploy, neurodeploy.app.cli, neurodeploy.hardware.validate\n"
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
    assert "neurodeploy.app.cli:main" in info["eps"]


def _checkout_version() -> str:
    import configparser

    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    return parser["metadata"]["version"]


def test_installed_cli_lists_the_profiles(built, tmp_path):
    _, site = built
    result = _isolated(site, tmp_path, "-m", "neurodeploy.app.cli", "profiles")
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
    result = _isolated(site, tmp_path, "-m", "neurodeploy.app.cli", "validate", "net.net", "--hw", "loihi2")
    output = result.stdout + result.stderr
    assert result.returncode in (0, 1), f"exit {result.returncode}:\n{output}"
    assert title in output, output
    assert "Traceback" not in output, output


@pytest.mark.timeout(300)
def test_installed_core_runs_without_lava(built, tmp_path):
    """The wheel on this Python and numpy (3.11+ and numpy 2 in the core leg) with Lava
    hidden: validate, simulate --backend emulator, export-nir and import-nir."""
    from tests.test_core_cli import NO_LAVA, check_core_commands

    pytest.importorskip("nir")
    _, site = built
    check_core_commands(tmp_path, lambda *args: _isolated(site, tmp_path, "-c", NO_LAVA, *args, timeout=240))


@pytest.fixture
def read_only(built):
    """The installed package, read-only for the test (as a system install is; root ignores
    the mode, so the test's check is that nothing lands in the package)."""
    _, site = built
    folders = [path for path in [site, *site.rglob("*")] if path.is_dir()]
    for folder in folders:
        folder.chmod(0o555)
    yield site
    for folder in folders:
        folder.chmod(0o755)


@pytest.mark.lava
def test_installed_first_hour_without_extras(built, no_extras, read_only, tmp_path):
    """From an empty folder, with no extras installed and the package read-only: init, a
    short run (numba caches in the user's cache folder), validate, and the one-line
    missing-extra errors of import-nir and --ray."""
    assert sysconfig.get_paths()["purelib"] == sysconfig.get_paths()["platlib"]
    site, cache = read_only, tmp_path / "cache"
    work = tmp_path / "work"
    work.mkdir()

    def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return _isolated(site, work, "-m", "neurodeploy.app.cli", *args, timeout=timeout, deps_folder=no_extras,
                         XDG_CACHE_HOME=str(cache), NUMBA_CACHE_DIR="",
                         NEURODEPLOY_DYNAMICS="torch")  # trains without compiling the fused kernels (cold here)

    hidden = _isolated(site, work, "-c", "import nir", deps_folder=no_extras)
    assert "No module named 'nir'" in hidden.stderr, "the extras are not hidden: the test proves nothing"
    result = cli("init", "digits")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (work / "digits.yaml").is_file()
    result = cli("run", "digits.yaml", "--set", "train.epochs=1", "--set", "data.limit=120",
                 "--set", "simulate.samples=3", "--set", "hardware=[loihi2]", timeout=150)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    metrics = json.loads((work / "runs" / "digits" / "metrics.json").read_text())
    assert metrics["simulated_samples"] == 3 and metrics["emulator_lava_agreement"] == 1.0
    assert list((cache / "neurodeploy" / "numba").rglob("*.nbi")), "numba cached nothing in the user's cache"
    assert not list(site.rglob("*.nbi")), "numba wrote into the installed package"
    result = cli("validate", "runs/digits/model.net", "--hw", "loihi2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Intel Loihi 2" in result.stdout
    (work / "graph.nir").write_bytes(b"")
    result = cli("import-nir", "graph.nir", "-o", "out.net", "--dt", "1e-3")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: this needs the optional package 'nir': pip install 'neurodeploy[nir]'"], result.stderr
    assert not (work / "out.net").exists()
    result = cli("simulate", "runs/digits/model.net", "--ray", "local")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: this needs the optional package 'ray': pip install 'neurodeploy[scale]'"], result.stderr
