"""Export a trained SpikingNetwork to lava-dl's netx HDF5 format, checked and atomic.

SLAYER learns layer shapes only on a forward pass, so export runs one first. The file is
written under a temporary name, reloaded with ``netx.hdf5.Network`` and compared layer by
layer (integer weights as Lava will run them, neuron parameters); only a file that
round-trips exactly is renamed into place.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

from neurodeploy.core.atomic import atomic_path
from neurodeploy.core.errors import NetworkFileError
from neurodeploy.training.network import SpikingNetwork


def port_shape(network: SpikingNetwork) -> tuple[int, ...]:
    """Shape of the netx network's input port: flat for dense, (W, H, C) for conv."""
    channels, height, width = network.input_shape
    return (width, height, channels) if network.is_conv else (channels * height * width,)


def export_netx(network: SpikingNetwork, path: str | Path) -> None:
    """Write ``network`` to ``path`` (netx HDF5) after checking that netx reads it back exactly."""
    network.eval()
    device = next(network.parameters()).device
    with torch.no_grad():
        network(torch.zeros(1, *network.input_shape, 2, device=device))
    with atomic_path(path) as temporary:
        with h5py.File(temporary, "w") as handle:
            layers = handle.create_group("layer")
            for index, block in enumerate(network.blocks):
                block.export_hdf5(layers.create_group(str(index)))
        check_roundtrip(temporary, network)


def check_roundtrip(path: Path, network: SpikingNetwork) -> None:
    """Reload ``path`` with netx and compare every layer's weights and neuron parameters."""
    from neurodeploy.training.lavadl import netx

    loaded = netx.hdf5.Network(net_config=str(path), input_shape=port_shape(network)
                               if network.is_conv else None)
    lava_layers = iter(loaded.layers)
    for name, block in zip(network.layer_names, network.blocks):
        if not hasattr(block, "synapse"):
            continue
        layer = next(lava_layers)
        conv = name.startswith("conv")
        expected, actual = _quantised_weight(block, conv), _lava_weight(layer, conv)
        if actual.shape != expected.shape or not np.array_equal(actual, expected):
            raise NetworkFileError(f"{path}: layer {name} weights changed on the netx round trip "
                                   f"(max |diff| {np.abs(actual - expected).max() if actual.shape == expected.shape else 'shape'})")
        device = block.neuron.device_params
        neuron = layer.neuron
        pairs = {"vThMant": (int(neuron.vth.init), int(device["vThMant"])),
                 "iDecay": (int(neuron.du.init) + 1, int(device["iDecay"])),
                 "vDecay": (int(neuron.dv.init), int(device["vDecay"]))}
        for key, (got, want) in pairs.items():
            if got != want:
                raise NetworkFileError(f"{path}: layer {name} neuron {key} is {got} in netx, "
                                       f"expected {want}")


def _quantised_weight(block: torch.nn.Module, conv: bool) -> np.ndarray:
    """The integer weights SLAYER exports: (out, in, kH, kW) for conv, (out, in) for dense."""
    synapse = block.synapse
    weight = synapse.pre_hook_fx(synapse.weight, descale=True)
    return weight.reshape(weight.shape[:4 if conv else 2]).detach().cpu().numpy().astype(np.int64)


def _lava_weight(layer, conv: bool) -> np.ndarray:
    """The integer weights Lava's fixed_pt model will use, in SLAYER's layout."""
    synapse = layer.synapse
    if conv:  # netx stores (out, W, H, in) with flipped kernel axes; undo it
        return np.asarray(synapse.weight.init).transpose(0, 3, 2, 1)[:, :, ::-1, ::-1].astype(np.int64)
    exponent = int(synapse.proc_params.get("weight_exp", 0))
    weight = np.asarray(synapse.weights.init).astype(np.int64)
    return weight << exponent if exponent >= 0 else weight >> -exponent
