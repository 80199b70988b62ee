"""Make the NIR test fixtures: small digits nets trained and exported by each framework.

    python3.11 scripts/nir_fixtures/make_fixtures.py [--venvs DIR] [--only snntorch,norse] [--epochs 8]

The frameworks cannot share Lava's Python 3.10 environment (SpikingJelly needs >= 3.11,
sinabs pins nir <= 1.0.4), so each gets its own Python 3.11 venv under ``--venvs``
(outside the repository; made once, reused): ``torch==2.13.0`` first (a CPU build), then
``requirements-<framework>.txt`` with torch held at that version. In each venv
``frameworks.py`` trains the nets, exports them with the framework's own exporter and
writes ``tests/fixtures/nir/<framework>_<net>.nir`` with the source's output counts on the
shared fixed spikes ``tests/fixtures/nir/spikes.npz``. The tests (tests/test_nir_fixtures.py)
then import each fixture with the flags docs/nir.md gives and compare; CI needs only the
fixtures. Needs network access to PyPI the first time.

With ``--readback PYTHON`` (a Python with neurodeploy and Lava, e.g. ``.venv/bin/python``)
it then checks the other direction: each fixture is imported with the documented flags,
written back with ``neurodeploy export-nir``, loaded by the framework's own NIR importer
in its venv and run on the same spikes; it prints the share of predictions that agree
with the source framework (the table in docs/nir.md).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import json
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FRAMEWORKS = ("snntorch", "norse", "sinabs", "spikingjelly", "rockpool")
TORCH = "torch==2.13.0"
#: The flags docs/nir.md gives for each framework's graphs (tests/test_nir_fixtures.py holds them too).
DT = {"snntorch": "1e-4", "norse": "1e-3", "sinabs": "1", "spikingjelly": "1e-4", "rockpool": "1e-3"}
#: Frameworks with a NIR importer to read export-nir's graphs back.
IMPORTERS = ("snntorch", "norse", "sinabs", "spikingjelly")


def venv(root: Path, framework: str) -> Path:
    """The framework's venv, made and filled on first use; its python."""
    folder = root / framework
    python = folder / "bin" / "python"
    marker = folder / ".filled"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run(pip + [TORCH], check=True)
        subprocess.run(pip + ["-r", str(HERE / f"requirements-{framework}.txt"), TORCH], check=True)
        marker.write_text("ok\n")
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venvs", type=Path, default=Path.home() / ".cache" / "neurodeploy-nir-venvs",
                        help="where the frameworks' venvs live (outside the repository)")
    parser.add_argument("--only", default=",".join(FRAMEWORKS), help="comma-separated frameworks")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "nir")
    parser.add_argument("--readback", metavar="PYTHON", help="check export-nir's graphs in each importer")
    parser.add_argument("--skip-training", action="store_true", help="only --readback, on the fixtures there are")
    args = parser.parse_args()
    if sys.version_info < (3, 11):
        sys.exit("run with python3.11 or newer (SpikingJelly 2 needs it)")
    if args.venvs.resolve().is_relative_to(REPO):
        sys.exit(f"--venvs {args.venvs}: keep the venvs outside the repository")
    for framework in args.only.split(","):
        if framework not in FRAMEWORKS:
            sys.exit(f"--only {framework!r}: expected some of {', '.join(FRAMEWORKS)}")
        python = venv(args.venvs, framework)
        if not args.skip_training:
            subprocess.run([str(python), str(HERE / "frameworks.py"), framework, str(args.out),
                            "--epochs", str(args.epochs)], check=True)
        if args.readback and framework in IMPORTERS:
            for graph in sorted(args.out.glob(f"{framework}_*.nir")):
                print(f"{graph.stem} read back by {framework}: {readback(args.readback, python, graph)}")


def readback(neurodeploy: str, python: Path, graph: Path) -> str:
    """Import ``graph``, export it again, run the export in the framework's importer: the
    share of predictions equal to the source's, or the importer's error."""
    framework = graph.stem.split("_")[0]
    with tempfile.TemporaryDirectory() as folder:
        net, back = Path(folder) / "model.net", Path(folder) / "back.nir"
        for command in (["import-nir", str(graph), "-o", str(net), "--from", framework, "--dt", DT[framework]],
                        ["export-nir", str(net), "-o", str(back), "--for", framework]):
            subprocess.run([neurodeploy, "-m", "neurodeploy", *command], check=True, capture_output=True)
        ran = subprocess.run([str(python), str(HERE / "frameworks.py"), framework, folder, "--readback", str(back)],
                             capture_output=True, text=True)
    if ran.returncode:
        return f"fails: {ran.stderr.strip().splitlines()[-1]}"
    counts = json.loads(ran.stdout.strip().splitlines()[-1])
    source = json.loads(graph.with_suffix(".json").read_text())["counts"]
    same = sum(max(range(len(a)), key=a.__getitem__) == max(range(len(b)), key=b.__getitem__)
               for a, b in zip(counts, source))
    return f"{100 * same / len(source):.1f} % of predictions agree with {framework}'s own"


if __name__ == "__main__":
    main()
