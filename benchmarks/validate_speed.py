"""Time `neurodeploy validate` on a network with about a million synapses.

Builds a netx file with h5py directly (dense 784 -> 1200 -> 64 -> 10 with slayer-like
even integer weights and CUBA neurons, 1,018,240 synapses) plus a manifest, then times
(a) reading and validating in-process and (b) the whole CLI in a fresh interpreter.
Prints one JSON object. Run: .venv/bin/python benchmarks/validate_speed.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

WIDTHS = (784, 1200, 64, 10)
NEURON = {"type": "CUBA", "iDecay": 1024, "vDecay": 123, "vThMant": 80, "refDelay": 1,
          "gradedSpike": False}


def build(folder: Path, widths: tuple[int, ...] = WIDTHS, seed: int = 0) -> Path:
    """Write ``model.net`` (dense layers of ``widths``) and its manifest into ``folder``."""
    from neurodeploy.core.encoding.schedule import FrameSchedule
    from neurodeploy.core.manifest import LayerInfo, Manifest

    rng = np.random.default_rng(seed)
    path = folder / "model.net"
    with h5py.File(path, "w") as handle:
        layers = handle.create_group("layer")
        for index, (fan_in, width) in enumerate(zip(widths, widths[1:])):
            group = layers.create_group(str(index))
            group.create_dataset("type", (1,), "S10", [b"dense"])
            group.create_dataset("shape", data=np.array([width]))
            group.create_dataset("weight", data=(2 * rng.integers(-6, 7, size=(width, fan_in))).astype(np.float32))
            for key, value in NEURON.items():
                group.create_dataset(f"neuron/{key}", data=value)
    infos = [LayerInfo(f"dense{i}", "dense", (w,)) for i, w in enumerate(widths[1:])]
    Manifest(network_file=path.name, input_shape=(1, 28, 28), port_shape=(widths[0],), layers=infos,
             schedule=FrameSchedule(gap=len(infos))).save(folder / "manifest.json")
    return path


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = build(Path(folder))
        synapses = sum(a * b for a, b in zip(WIDTHS, WIDTHS[1:]))
        from neurodeploy.hardware.validate import validate_file

        start = time.perf_counter()
        report = validate_file(path, "loihi1")
        in_process = time.perf_counter() - start
        start = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "neurodeploy.app.cli", "validate", str(path),
                              "--hw", "loihi1", "--json"], capture_output=True, text=True)
        end_to_end = time.perf_counter() - start
    print(json.dumps({"synapses": synapses, "validate_s": round(in_process, 3),
                      "cli_s": round(end_to_end, 3), "cli_exit_code": cli.returncode,
                      "verdict": report.verdict, "cores": report.mapping.cores}))


if __name__ == "__main__":
    main()
