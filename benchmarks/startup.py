"""Wall time of short CLI commands against a bare interpreter, interleaved.

Runs ``neurodeploy --help``, ``neurodeploy validate NET --hw loihi2`` (the table) and
``python -c pass`` ``--repeats`` times each in fresh processes, in rotation, and prints
min / median wall seconds and each command's min as a multiple of the bare interpreter's
(what stays comparable on a loaded machine), with ``uptime``. Where the time goes:
``python -X importtime -m neurodeploy.app.cli validate NET --hw loihi2``.

Run: .venv/bin/python benchmarks/startup.py --net runs/digits/model.net
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Optional


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", required=True)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    commands = {
        "bare_python": [sys.executable, "-c", "pass"],
        "help": [sys.executable, "-m", "neurodeploy.app.cli", "--help"],
        "validate": [sys.executable, "-m", "neurodeploy.app.cli", "validate", args.net, "--hw", "loihi2"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            began = time.perf_counter()
            subprocess.run(command, capture_output=True, check=name != "validate")
            times[name].append(time.perf_counter() - began)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    bare = min(times["bare_python"])
    print(json.dumps({
        "benchmark": "startup", "uptime": uptime, "repeats": args.repeats,
        "wall_s": {name: {"min": min(values), "median": statistics.median(values)} for name, values in times.items()},
        "min_over_bare_python": {name: min(values) / bare for name, values in times.items()},
        "targets_s": {"help": 0.1, "validate": 0.25},
    }, indent=2))


if __name__ == "__main__":
    main()
