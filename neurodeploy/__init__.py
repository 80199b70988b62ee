"""neurodeploy: spiking networks from training to a checked Loihi deployment.

The public API (see :mod:`neurodeploy.api`)::

    import neurodeploy as nd
    net = nd.load_network("model.net")
    result = nd.simulate(net, nd.SpikeInput(spikes), backend="emulator")
    report = nd.validate(net, "loihi2")

Names load on first use, so ``import neurodeploy`` stays light (no torch, no Lava).
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_network": "neurodeploy.api", "simulate": "neurodeploy.api", "validate": "neurodeploy.api",
    "parity": "neurodeploy.api", "train": "neurodeploy.api", "export": "neurodeploy.api",
    "ImageInput": "neurodeploy.inputs", "SpikeInput": "neurodeploy.inputs", "BiasInput": "neurodeploy.inputs",
    "load_spikes": "neurodeploy.inputs", "load_bias": "neurodeploy.inputs",
    "FrameSchedule": "neurodeploy.encoding.schedule", "NetxNetwork": "neurodeploy.netxfile",
    "NetworkTiming": "neurodeploy.blocks", "SimulationResult": "neurodeploy.results",
    "NeurodeployError": "neurodeploy.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    if name == "__version__":  # read on first use: importlib.metadata costs more than the CLI's start
        from importlib import metadata

        try:
            return metadata.version("neurodeploy")
        except metadata.PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'neurodeploy' has no attribute {name!r}")
