"""neurodeploy's Loihi 2 core map beside the per-core tables Intel's compiler printed.

lava-dl's tutorial notebooks keep, in their saved outputs, the tables the Loihi 2
compiler printed when each network ran on a board (``Loihi2HwCfg``); they are copied
below (cores per layer, input first; the compiler prints the output layer first):

- ``netx/pilotnet_snn/benchmark.ipynb`` cell 15 (``gts/pilotnet_lif/network.net``);
- ``netx/pilotnet_sdnn/benchmark.ipynb`` cell 13 (``skip_layers=1``: no input layer);
- ``netx/mnist/run.ipynb`` cell 21; ``netx/oxford/run.ipynb`` cell 12;
- ``netx/yolo_kp/run.ipynb`` cell 23 (``skip_layers=1``: ten convs on 448x448x3).

PilotNet SNN is lava-dl's installed file. The others are not installed: they are written
here with h5py, with the notebooks' layer shapes and weights of the same extremes and
granularity as the trained files (so netx gives them the same weight bits, the only
thing of the weights the accounting reads; YOLO-KP's trained file is a Git LFS pointer,
its weights here are 8-bit). Prints a markdown table per layer and the share of layers
within 25 % (or one core) of the compiler, then one JSON line of totals::

    python -m benchmarks.loihi2_compiler_tables
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Optional

import h5py
import numpy as np

from benchmarks.loihi2_calibration import gts_folder
from benchmarks.validate_pilotnet import build_yolo_kp

#: Cores per layer, input first, as the compiler printed them.
COMPILER = {"pilotnet_snn": [13, 25, 13, 3, 3, 2, 12, 1, 1, 1],
            "pilotnet_sdnn": [25, 13, 3, 3, 2, 12, 1, 1, 1],
            "mnist": [3, 1, 1],
            "oxford": [3, 2],
            "yolo_kp": [224, 112, 56, 28, 56, 16, 32, 14, 32, 4]}
#: The compiler's Conv(x, y, c) tiles, input first, where it printed them.
COMPILER_TILES = {"pilotnet_snn": [(16, 66, 3), (4, 32, 24), (4, 15, 36), (8, 7, 48), (8, 4, 64), (16, 2, 64)],
                  "yolo_kp": [(8, 28, 16), (8, 14, 32), (4, 14, 64), (4, 7, 128), (4, 7, 128), (8, 7, 64),
                              (8, 7, 64), (2, 7, 256), (8, 7, 64), (4, 14, 48)]}
CUBA = {"type": "CUBA", "iDecay": 410, "vDecay": 410, "vThMant": 64, "refDelay": 1, "gradedSpike": False}
SDNN = {"type": "SDNN", "activation": "relu", "vThMant": 6}
#: PilotNet SDNN: per conv (c_in, c_out, output CHW, stride (y, x), padding (y, x), weight
#: extremes) and per dense (fan-in, width, extremes), from the tutorial's network.net.
SDNN_CONVS = ((3, 24, (24, 32, 99), (2, 2), (0, 0), (-30, 34)), (24, 36, (36, 15, 49), (2, 2), (0, 0), (-22, 20)),
              (36, 48, (48, 7, 24), (2, 2), (0, 0), (-16, 14)), (48, 64, (64, 4, 22), (2, 1), (1, 0), (-14, 16)),
              (64, 64, (64, 2, 20), (1, 1), (0, 0), (-14, 10)))
SDNN_DENSE = ((2560, 100, (-10, 12)), (100, 50, (-36, 14)), (50, 10, (-12, 16)), (10, 1, (-12, 10)))
MNIST_DENSE = ((784, 128, (-98, 130)), (128, 64, (-166, 254)), (64, 10, (-88, 254)))
OXFORD_DENSE = ((200, 256, (-178, 192)), (256, 200, (-98, 124)))


def like(shape: tuple[int, ...], extremes: tuple[int, int]) -> np.ndarray:
    """Weights of ``shape`` with the given extremes, even like slayer's exports."""
    low, high = extremes
    return np.resize(np.array([low, high, 2, -2, 0], dtype=np.float32), shape)


def _write(path: Path, layers: list[dict[str, Any]]) -> Path:
    with h5py.File(path, "w") as handle:
        group = handle.create_group("layer")
        for index, layer in enumerate(layers):
            node = group.create_group(str(index))
            for key, value in layer.items():
                if key == "type":
                    node.create_dataset("type", (1,), "S10", [value.encode("ascii")])
                elif key == "neuron":
                    for name, item in value.items():
                        node.create_dataset(f"neuron/{name}", data=item)
                else:
                    node.create_dataset(key, data=value)
    return path


def _dense(spec: tuple, neuron: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "dense", "shape": np.array([width]), "weight": like((width, fan_in), extremes), "neuron": neuron}
            for fan_in, width, extremes in spec]


def _pilotnet_sdnn(path: Path) -> Path:
    layers = [{"type": "conv", "shape": np.array(output), "weight": like((c_out, c_in, 3, 3), extremes),
               "kernelSize": np.array([3, 3]), "stride": np.array(stride), "padding": np.array(padding),
               "dilation": np.array([1, 1]), "groups": 1, "inChannels": c_in, "outChannels": c_out, "neuron": SDNN}
              for c_in, c_out, output, stride, padding, extremes in SDNN_CONVS]
    layers.append({"type": "flatten", "shape": np.array([2560])})
    return _write(path, layers + _dense(SDNN_DENSE, SDNN))


def build(name: str, folder: Path) -> tuple[Path, Optional[tuple[int, ...]]]:
    """The network file of ``name`` and the input shape to read it with."""
    if name == "pilotnet_snn":
        return gts_folder() / "network.net", None
    if name == "pilotnet_sdnn":
        return _pilotnet_sdnn(folder / "pilotnet_sdnn.net"), (200, 66, 3)
    if name == "yolo_kp":
        return build_yolo_kp(folder / "yolo_kp.net"), None
    spec = {"mnist": MNIST_DENSE, "oxford": OXFORD_DENSE}[name]
    return _write(folder / f"{name}.net", _dense(spec, CUBA)), None


def within(ours: int, theirs: int) -> bool:
    """The target for a layer: within 25 % of the compiler's count, or one core."""
    return abs(ours - theirs) <= max(1, 0.25 * theirs)


def main() -> None:
    from neurodeploy.hardware.profile import load_profile
    from neurodeploy.hardware.resources import map_cores
    from neurodeploy.core.netxfile import read_netx

    profile = load_profile("loihi2")
    rows, totals, hits, count = [], {}, 0, 0
    with tempfile.TemporaryDirectory() as folder:
        for name, theirs in COMPILER.items():
            path, shape = build(name, Path(folder))
            core_map = map_cores(read_netx(path, input_shape=shape), profile)
            tiles = COMPILER_TILES.get(name, [])
            for index, (layer, cores) in enumerate(zip(core_map.layers, theirs)):
                ok = within(layer.cores, cores)
                hits, count = hits + ok, count + 1
                printed = f"Conv{tiles[index]}" if index < len(tiles) else ""
                ours = f"Conv{layer.tile}" if len(layer.tile) == 3 else f"{layer.tile[0]} neurons"
                rows.append(f"| {name} | {layer.name} | {cores} | {layer.cores} | {printed} | {ours} | "
                            f"{'yes' if ok else '**no**'} |")
            totals[name] = {"compiler": sum(theirs), "neurodeploy": core_map.cores,
                            "within_10_pct": abs(core_map.cores - sum(theirs)) <= 0.1 * sum(theirs)}
    print("| network | layer | compiler cores | neurodeploy cores | compiler tile | neurodeploy tile | within 25 % |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print(f"\nlayers within 25 % (or one core): {hits} of {count}")
    print(json.dumps(totals))


if __name__ == "__main__":
    main()
