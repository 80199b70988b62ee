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
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FRAMEWORKS = ("snntorch", "norse", "sinabs", "spikingjelly", "rockpool")
TORCH = "torch==2.13.0"


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
    args = parser.parse_args()
    if sys.version_info < (3, 11):
        sys.exit("run with python3.11 or newer (SpikingJelly 2 needs it)")
    if args.venvs.resolve().is_relative_to(REPO):
        sys.exit(f"--venvs {args.venvs}: keep the venvs outside the repository")
    for framework in args.only.split(","):
        if framework not in FRAMEWORKS:
            sys.exit(f"--only {framework!r}: expected some of {', '.join(FRAMEWORKS)}")
        python = venv(args.venvs, framework)
        subprocess.run([str(python), str(HERE / "frameworks.py"), framework, str(args.out),
                        "--epochs", str(args.epochs)], check=True)


if __name__ == "__main__":
    main()
