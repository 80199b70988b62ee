"""Loihi 2 time and energy against Intel's measured PilotNet SNN point.

lava-dl's tutorial ``pilotnet_snn/benchmark.ipynb`` ran ``gts/pilotnet_lif/network.net``
on an Oheo Gulch board (``Loihi2HwCfg``, ``reset_interval=16``) and printed 408.91
inferences/s, 0.679 W total and 0.232 W static power, 1.09 mJ dynamic and 1.66 mJ total
energy per inference. lava-dl's wheel installs the same network with a reference spike
record of every layer (``gts/pilotnet_lif/*.npy``, 24 steps of one image); the first 16
steps (one inference, the fill of the deeper layers included) are the activity here.

Prints the activity, the core map, the estimate with the loihi2 profile and the measured
figures as JSON; with ``--fit`` also the per-op scale that would put the estimate's
midpoint on the measured point (how the profile's constants were set)::

    python benchmarks/loihi2_calibration.py [--fit]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

#: Intel's measurement (pilotnet_snn/benchmark.ipynb, cells 17, 23 and 24).
MEASURED = {"inferences_per_s": 408.91, "steps_per_inference": 16, "total_power_w": 0.679234,
            "static_power_w": 0.232078, "dynamic_energy_j": 1.093544e-3, "total_energy_j": 1.661103e-3}
MEASURED["step_time_s"] = 1 / (MEASURED["inferences_per_s"] * MEASURED["steps_per_inference"])
#: netx layer name -> spike record in gts/pilotnet_lif (input block first).
RECORDS = {"input0": "input.npy", "conv1": "conv-0.npy", "conv2": "conv-1.npy", "conv3": "conv-2.npy",
           "conv4": "conv-3.npy", "conv5": "conv-4.npy", "dense7": "fc-0.npy", "dense8": "fc-1.npy",
           "dense9": "fc-2.npy", "dense10": "fc-3-s.npy"}


def gts_folder() -> Path:
    """lava-dl's installed ``tests/lava/lib/dl/netx/gts/pilotnet_lif`` (found without importing lava)."""
    spec = importlib.util.find_spec("lava")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("lava is not installed")
    site = Path(list(spec.submodule_search_locations)[0]).parent
    return site / "tests" / "lava" / "lib" / "dl" / "netx" / "gts" / "pilotnet_lif"


def pilotnet_activity(steps: int = 16, start: int = 0) -> tuple[Any, dict[str, Any]]:
    """The network and its activity per inference from the reference spike record
    (steps ``start`` to ``start + steps``)."""
    from neurodeploy.hardware.activity import activity_counts
    from neurodeploy.core.netxfile import read_netx

    folder = gts_folder()
    network = read_netx(folder / "network.net")
    spikes = {name: float(np.count_nonzero(np.load(folder / record)[..., start:start + steps]))
              for name, record in RECORDS.items()}
    input_spikes = spikes.pop("input0")
    return network, activity_counts(network, input_spikes, spikes, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="print the scale that centres the estimate")
    args = parser.parse_args()
    from neurodeploy.hardware.energy import estimate
    from neurodeploy.hardware.profile import load_profile
    from neurodeploy.hardware.resources import map_cores

    profile = load_profile("loihi2")
    network, activity = pilotnet_activity()
    core_map = map_cores(network, profile)
    result = estimate(profile, MEASURED["steps_per_inference"], core_map.chips, activity, core_map)
    report = {"measured": MEASURED, "cores": core_map.cores,
              "activity": {key: value for key, value in activity.items() if key != "layers"},
              "layers": activity["layers"], "estimate": result.to_dict()}
    if args.fit:
        def centre(bounds: tuple[float, float]) -> float:
            return (bounds[0] + bounds[1]) / 2
        report["fit"] = {
            "step_time_scale": MEASURED["step_time_s"] / centre(result.step_time_s),
            "dynamic_energy_scale": MEASURED["dynamic_energy_j"] / centre(result.dynamic_energy_per_sample_j)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
