"""neurodeploy: spiking networks from training to a checked Loihi deployment.

::

    import neurodeploy as nd
    net = nd.load_network("runs/digits/model.net")
    result = nd.simulate(net, spikes, backend="emulator")   # a bool (N, T, 64) array is spikes
    report = nd.validate(net, "loihi2")

Functions (:mod:`neurodeploy.app.api`):

- ``load_network(path)``: read a netx ``.net`` file once, typed (:class:`NetxNetwork`).
- ``simulate(net, inputs, backend="lava"|"emulator", ...)``: run it; a :class:`SimulationResult`.
- ``validate(net, "loihi2")``: check it against a chip profile; a ``ValidationResult``.
- ``parity(net, inputs)``: emulator vs Lava (and torch) step by step; a ``ParityReport``.
- ``train(config)``: train and export from a YAML config; a ``TrainedRun``.
- ``export(checkpoint, output)``: a training checkpoint to a ``.net`` and its manifest.
- ``inputs_for(net, array)``: what an array means for a network (spikes or images).

Inputs and timing: ``ImageInput(images, schedule)``, ``SpikeInput(spikes)``,
``BiasInput(bias, steps)``, ``load_spikes(path)``, ``load_bias(path, steps)``,
``FrameSchedule`` (how many steps a sample takes; a network's manifest holds its own),
``NetworkTiming`` (hops, reset steps and decode window of a network).
Results (simulation, ``ValidationResult``, ``ParityReport``) share one face: data as
properties, ``to_dict()``, ``to_json(path)``, a one-line repr, a notebook table and
``plot()`` (output raster, core map, agreement per pair). Errors a user can act on:
``NeurodeployError``. ``__version__``.

Names load on first use, so ``import neurodeploy`` stays light (no torch, no Lava).
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_network": "neurodeploy.app.api", "simulate": "neurodeploy.app.api", "validate": "neurodeploy.app.api",
    "parity": "neurodeploy.app.api", "train": "neurodeploy.app.api", "export": "neurodeploy.app.api",
    "inputs_for": "neurodeploy.app.api",
    "ImageInput": "neurodeploy.core.inputs", "SpikeInput": "neurodeploy.core.inputs", "BiasInput": "neurodeploy.core.inputs",
    "load_spikes": "neurodeploy.core.inputs", "load_bias": "neurodeploy.core.inputs",
    "FrameSchedule": "neurodeploy.core.encoding.schedule", "NetxNetwork": "neurodeploy.core.netxfile",
    "NetworkTiming": "neurodeploy.core.blocks", "SimulationResult": "neurodeploy.core.results",
    "NeurodeployError": "neurodeploy.core.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __dir__() -> list[str]:
    """The public API (what ``dir(nd)`` and tab completion show) and the module's own
    ``__dunder__`` attributes, not the helpers it imports."""
    return sorted({*__all__, *(name for name in globals() if name.startswith("__") and name.endswith("__"))})


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    if name == "__version__":  # read on first use: importlib.metadata costs more than the CLI's start
        from neurodeploy.core.extras import neurodeploy_version

        return neurodeploy_version()
    raise AttributeError(f"module 'neurodeploy' has no attribute {name!r}")
