"""DA-SSDP's effect, paired by seed: baseline vs the rule with its continuous gate vs the gate
forced to 1 (optionally the reference's co-silent depression), on the digits or mnist5k.

Every variant of one seed trains from the same split and initial weights, so each seed
gives one paired difference per variant against the baseline; the table shows the mean
difference and its 95 % Student-t interval over seeds. The rule runs at its documented
defaults (docs/dassdp.md: co-silent pairs skipped, amplitudes in weight steps, batch-mean
warm-up loss, gate clamped to [0, 2]) on the classifier `dense1`. Torch test accuracy
only, no Lava run.

    .venv/bin/python benchmarks/dassdp_effect.py --data digits --seeds 5
    .venv/bin/python benchmarks/dassdp_effect.py --data mnist5k --seeds 5 --epochs 5 \
        --json runs/dassdp_mnist5k.json --runs runs/dassdp_mnist5k   # resumable, JSON after each seed
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from neurodeploy.core.atomic import write_json
from neurodeploy.app.compare import t_interval
from neurodeploy.app.train_export import train_and_export

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONFIGS = {"digits": EXAMPLES / "digits.yaml", "mnist5k": EXAMPLES / "mnist5k.yaml"}
RULE = {"dassdp.enabled": True, "dassdp.layers": ["dense1"]}
VARIANTS = {
    "baseline": {"dassdp.enabled": False},
    "dassdp_continuous": {**RULE, "dassdp.gate": "continuous"},
    "dassdp_gate_one": {**RULE, "dassdp.gate": "one"},
    "dassdp_co_silent_reference": {**RULE, "dassdp.gate": "continuous", "dassdp.co_silent": "reference"},
}
DEFAULT_VARIANTS = ["baseline", "dassdp_continuous", "dassdp_gate_one"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(CONFIGS), default="digits")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None, help="default: the example's")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=DEFAULT_VARIANTS)
    parser.add_argument("--json", default=None, help="also write the summary here, after every seed")
    parser.add_argument("--runs", default=None,
                        help="keep the run folders here (a rerun resumes from their checkpoints); default: a temporary folder")
    args = parser.parse_args()
    if args.variants[0] != "baseline":
        parser.error("--variants: the first must be baseline (the differences are taken against it)")
    common = {} if args.epochs is None else {"train.epochs": args.epochs}
    accuracies: dict[str, list[float]] = {name: [] for name in args.variants}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.seeds):
            for name in args.variants:
                run = train_and_export(str(CONFIGS[args.data]), {**common, **VARIANTS[name], "seed": seed},
                                       output=str(Path(args.runs or scratch) / f"{name}-{seed}"))
                accuracies[name].append(run.torch_accuracy)
            summary = summarise(args.data, common, accuracies, time.perf_counter() - began)
            if args.json:  # a long grid cut short still leaves the seeds it finished
                write_json(Path(args.json), summary)
    print(json.dumps(summary, indent=2))
    print(markdown(summary))


def summarise(data: str, overrides: dict, accuracies: dict[str, list[float]], wall_s: float) -> dict:
    """Accuracy per variant and the paired difference of each variant against the baseline."""
    return {
        "data": data, "config": str(CONFIGS[data].relative_to(EXAMPLES.parent)),
        "seeds": len(accuracies["baseline"]), "overrides": overrides, "wall_s": wall_s,
        "test_accuracy": {name: {"mean": statistics.mean(values), "std": statistics.pstdev(values),
                                 "runs": values} for name, values in accuracies.items()},
        "difference_vs_baseline": {name: t_interval(np.subtract(values, accuracies["baseline"]))
                                   for name, values in accuracies.items() if name != "baseline"},
    }


def markdown(summary: dict) -> str:
    """One row per variant: accuracy per seed, mean, paired difference and its interval."""
    lines = ["| variant | test accuracy per seed (%) | mean | difference vs baseline, 95 % CI (points) |",
             "| --- | --- | --- | --- |"]
    for name, row in summary["test_accuracy"].items():
        seeds = ", ".join(f"{100 * value:.2f}" for value in row["runs"])
        paired = summary["difference_vs_baseline"].get(name)
        gap = "" if paired is None else (f"{100 * paired['mean']:+.2f} [{100 * paired['low']:+.2f}, "
                                         f"{100 * paired['high']:+.2f}]" if paired["low"] is not None
                                         else f"{100 * paired['mean']:+.2f}")
        lines.append(f"| {name} | {seeds} | {100 * row['mean']:.2f} % | {gap} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
