"""Time `neurodeploy validate` on a PilotNet-sized and a YOLO-KP-sized network (docs/mapping.md).

PilotNet as lava-dl's tutorial builds it: input 3x66x200 as netx's Input block, five 3x3
conv layers (24, 36, 48, 64, 64 channels; strides 2, 2, 2, (2, 1), 1; padding (1, 0) on
the fourth), then dense 100, 50, 10, 1: 158,509 neurons with the input, 14,550,054
synapses without weight sharing. YOLO-KP as lava-dl's ``netx/yolo_kp`` tutorial runs it
(the delta-encoding layer skipped): ten conv layers on a 448x448x3 input, 2,016,448
neurons, 574 Loihi 2 cores in Intel's compiler table. Written with h5py (even int8-range
weights, CUBA neurons), then, per network, best of ``--runs`` wall times of: validate
in-process on each Loihi profile (``validate_s``, imports warm), the whole
``neurodeploy validate NET --hw HW`` in a fresh interpreter (``cli_s``: imports, reading,
the table), and reading once and validating against the profiles ``run`` checks by
default (``default_profiles_s``, the config's ``hardware:``). Prints one JSON object
with ``uptime`` (time it on an idle machine).
Run: .venv/bin/python benchmarks/validate_pilotnet.py [--runs N]
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

NEURON = {"type": "CUBA", "iDecay": 1024, "vDecay": 123, "vThMant": 80, "refDelay": 1,
          "gradedSpike": False}
INPUT_CHW = (3, 66, 200)
#: (in channels, out channels, output CHW, stride (y, x), padding (y, x))
CONVS = ((3, 24, (24, 32, 99), (2, 2), (0, 0)), (24, 36, (36, 15, 49), (2, 2), (0, 0)),
         (36, 48, (48, 7, 24), (2, 2), (0, 0)), (48, 64, (64, 4, 22), (2, 1), (1, 0)),
         (64, 64, (64, 2, 20), (1, 1), (0, 0)))
DENSE = (2560, 100, 50, 10, 1)
#: YOLO-KP: (in channels, out channels, output side, kernel, stride, padding); input 448x448x3.
YOLO_KP = ((3, 16, 224, 3, 2, 1), (16, 32, 112, 3, 2, 1), (32, 64, 56, 3, 2, 1), (64, 128, 28, 3, 2, 1),
           (128, 256, 28, 3, 1, 1), (256, 256, 14, 3, 2, 1), (256, 512, 14, 3, 1, 1), (512, 256, 14, 1, 1, 0),
           (256, 512, 14, 3, 1, 1), (512, 48, 14, 1, 1, 0))


def build(path: Path, seed: int = 0) -> Path:
    """Write the PilotNet-shaped netx file to ``path``."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as handle:
        layers = handle.create_group("layer")

        def layer(kind: str, shape: tuple[int, ...], neuron: bool = True, **datasets: Any) -> None:
            group = layers.create_group(str(len(layers)))
            group.create_dataset("type", (1,), "S10", [kind.encode("ascii")])
            group.create_dataset("shape", data=np.array(shape))
            for key, value in datasets.items():
                group.create_dataset(key, data=value)
            for key, value in (NEURON.items() if neuron else ()):
                group.create_dataset(f"neuron/{key}", data=value)

        layer("input", INPUT_CHW)
        for c_in, c_out, output, stride, padding in CONVS:
            layer("conv", output, weight=_weights(rng, c_out, c_in, 3, 3), kernelSize=np.array([3, 3]),
                  stride=np.array(stride), padding=np.array(padding), dilation=np.array([1, 1]),
                  groups=1, inChannels=c_in, outChannels=c_out)
        layer("flatten", (DENSE[0],), neuron=False)
        for fan_in, width in zip(DENSE, DENSE[1:]):
            layer("dense", (width,), weight=_weights(rng, width, fan_in))
    return path


def build_yolo_kp(path: Path, seed: int = 0) -> Path:
    """Write the YOLO-KP-shaped netx file (no Input block: its input is 448x448x3)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as handle:
        layers = handle.create_group("layer")
        for index, (c_in, c_out, side, kernel, stride, padding) in enumerate(YOLO_KP):
            group = layers.create_group(str(index))
            group.create_dataset("type", (1,), "S10", [b"conv"])
            group.create_dataset("shape", data=np.array([c_out, side, side]))
            datasets = {"weight": _weights(rng, c_out, c_in, kernel, kernel), "kernelSize": np.array([kernel, kernel]),
                        "stride": np.array([stride, stride]), "padding": np.array([padding, padding]),
                        "dilation": np.array([1, 1]), "groups": 1, "inChannels": c_in, "outChannels": c_out}
            for key, value in {**datasets, **{f"neuron/{k}": v for k, v in NEURON.items()}}.items():
                group.create_dataset(key, data=value)
    return path


def _weights(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return (2 * rng.integers(-60, 61, size=shape)).astype(np.float32)


def _best_of(runs: int, action: Any) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), result


def _cli_seconds(runs: int, path: Path, hw: str) -> float:
    """Best wall time of the whole command in a fresh interpreter (imports, read, table)."""
    command = [sys.executable, "-m", "neurodeploy.app.cli", "validate", str(path), "--hw", hw]
    best = math.inf
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return best


def main() -> None:
    import argparse

    from neurodeploy.core.config import ExperimentConfig
    from neurodeploy.hardware.deployment import validate_profiles
    from neurodeploy.hardware.validate import validate_file
    from neurodeploy.core.netxfile import read_netx

    parser = argparse.ArgumentParser(description="time validate on PilotNet and YOLO-KP shapes")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (best kept)")
    args = parser.parse_args()
    defaults = ExperimentConfig().hardware  # what `run` validates against
    output: dict[str, Any] = {"uptime": _uptime(), "default_profiles": defaults}
    with tempfile.TemporaryDirectory() as folder:
        for name, builder in (("pilotnet", build), ("yolo_kp", build_yolo_kp)):
            path = builder(Path(folder) / f"{name}.net")
            validate_file(path, "loihi1")  # warm the imports
            results: dict[str, Any] = {}
            for hw in ("loihi1", "loihi2"):
                seconds, report = _best_of(args.runs, lambda: validate_file(path, hw))
                results[hw] = {"validate_s": round(seconds, 3), "cli_s": round(_cli_seconds(args.runs, path, hw), 3),
                               "verdict": report.verdict, "cores": report.mapping.cores,
                               "chips": report.mapping.chips, "system": report.mapping.system,
                               "cores_per_layer": {m.name: m.cores for m in report.mapping.layers}}
            seconds, _ = _best_of(args.runs, lambda: validate_profiles(read_netx(path), defaults))
            output[name] = {"neurons": sum(m.neurons for m in report.mapping.layers),
                            "synapses": sum(m.synapses for m in report.mapping.layers),
                            "default_profiles_s": round(seconds, 3), **results}
    print(json.dumps(output))


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
