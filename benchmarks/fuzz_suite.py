"""Run the whole fuzz suite (every case, not the default suite's share) and count it.

    .venv/bin/python benchmarks/fuzz_suite.py            # NEURODEPLOY_FUZZ_SCALE=1
    .venv/bin/python benchmarks/fuzz_suite.py --scale 0.2

Prints the cases run per command and exit code, the wall time, and pytest's verdict
(a traceback, a hang or a malformed file accepted as deployable fails a test). For the
``.net`` cases, ``netx-builds 1`` counts the accepted ones (deployable or emulated) that
netx's own builder built when asked (``tests/netx_oracle.py``); one it could not build
fails the run.
"""
from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = ["tests/test_fuzz_netx.py", "tests/test_fuzz_inputs.py", "tests/test_fuzz_config.py"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the cases to run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tally = Path(folder) / "tally"
        env = {**os.environ, "NEURODEPLOY_FUZZ_SCALE": str(args.scale), "NEURODEPLOY_FUZZ_TALLY": str(tally),
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        began = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", *FILES],
                                cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - began
        cases = tally.read_text().splitlines() if tally.exists() else []
    counts = collections.Counter(cases)
    for (key, count) in sorted(counts.items()):
        print(f"{key:<14} {count:>6}")
    print(f"cases: {len(cases)}, wall time: {wall:.1f} s, pytest exit code {result.returncode}")
    print(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:])
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
