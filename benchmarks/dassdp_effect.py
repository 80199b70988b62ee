"""DA-SSDP's effect on the digits, honestly: seeds x {baseline, continuous gate, gate = 1,
continuous gate with the reference's co-silent depression}.

Trains the digits example once per seed and variant (torch test accuracy, no Lava run) and
prints a JSON summary plus a markdown table of mean +- std.

    .venv/bin/python benchmarks/dassdp_effect.py --seeds 5
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from neurodeploy.pipeline import train_and_export

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits.yaml"
VARIANTS = {
    "baseline": {"dassdp.enabled": False},
    "dassdp_continuous": {"dassdp.enabled": True, "dassdp.layers": ["dense1"], "dassdp.gate": "continuous"},
    "dassdp_gate_one": {"dassdp.enabled": True, "dassdp.layers": ["dense1"], "dassdp.gate": "one"},
    "dassdp_co_silent_reference": {"dassdp.enabled": True, "dassdp.layers": ["dense1"],
                                   "dassdp.gate": "continuous", "dassdp.co_silent": "reference"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--config", default=str(EXAMPLE))
    args = parser.parse_args()
    accuracies: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.seeds):
            for name, overrides in VARIANTS.items():
                run = train_and_export(args.config, {**overrides, "seed": seed},
                                       output=str(Path(scratch) / f"{name}-{seed}"))
                accuracies[name].append(run.torch_accuracy)
    summary = {name: {"mean": statistics.mean(values), "std": statistics.pstdev(values), "runs": values}
               for name, values in accuracies.items()}
    print(json.dumps({"seeds": args.seeds, "config": args.config, "test_accuracy": summary}, indent=2))
    print("\n| variant | test accuracy (mean +- std over seeds) |\n| --- | --- |")
    for name, row in summary.items():
        print(f"| {name} | {100 * row['mean']:.2f} % +- {100 * row['std']:.2f} |")


if __name__ == "__main__":
    main()
