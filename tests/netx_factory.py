"""Make netx ``.net`` files for tests.

Two ways, both in lava-dl's layout (``layer/{i}`` groups):

- ``export_blocks`` and the ``*_net`` builders run SLAYER blocks once (SLAYER learns
  shapes on the first forward pass) and call each block's own ``export_hdf5``: files as
  lava-dl writes them, from several block types, including ones netx cannot run.
- ``write_netx`` with ``dense_layer`` / ``conv_layer`` / ``raw_layer`` writes a file
  directly with h5py, for crafted networks that break exactly one limit.

``write_manifest`` puts a deployment manifest beside a file. torch and lava-dl are
imported only by the SLAYER builders. Where lava-dl is not installed (the core leg), a
builder called with its default arguments copies lava-dl's own export of it, stored in
``fixtures/slayer/`` by ``python -m tests.test_core_slayer_exports`` in the Lava leg,
where that test checks each stored file still equals a fresh export.
"""
from __future__ import annotations

import functools
import importlib.util
import shutil
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import h5py
import numpy as np

from neurodeploy.core.encoding.schedule import FrameSchedule
from neurodeploy.core.manifest import LayerInfo, Manifest
from neurodeploy.core.netxfile import read_netx

CUBA_PARAMS = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03,
               "tau_grad": 0.03, "scale_grad": 3.0, "requires_grad": False}


# --- lava-dl's own export -------------------------------------------------------------

SLAYER_INSTALLED = importlib.util.find_spec("lava") is not None
SLAYER_EXPORTS = Path(__file__).parent / "fixtures" / "slayer"


def stored_without_slayer(builder: Callable[..., Path]) -> Callable[..., Path]:
    """The builder, or without lava-dl the stored export of its default arguments."""
    @functools.wraps(builder)
    def build(path: str | Path, *args: Any, **kwargs: Any) -> Path:
        if SLAYER_INSTALLED:
            return builder(path, *args, **kwargs)
        if args or kwargs:
            raise RuntimeError(f"{builder.__name__}: only its default export is stored; the test needs lava-dl")
        shutil.copyfile(SLAYER_EXPORTS / f"{builder.__name__}.net", path)
        return Path(path)
    return build


def export_blocks(path: str | Path, blocks: Sequence[Any], example: Any) -> Path:
    """Run ``example`` (N, C, [H, W,] T) through ``blocks`` once, then export each."""
    path = Path(path)
    forward(blocks, example)
    with h5py.File(path, "w") as handle:
        layers = handle.create_group("layer")
        for index, block in enumerate(blocks):
            block.export_hdf5(layers.create_group(str(index)))
    return path


def forward(blocks: Sequence[Any], example: Any) -> Any:
    """One pass without gradients: SLAYER blocks learn their shapes on the first."""
    import torch

    with torch.no_grad():
        for block in blocks:
            example = block(example)
    return example


def _slayer(seed: int) -> Any:
    import torch
    import lava.lib.dl.slayer as slayer

    torch.manual_seed(seed)
    return slayer


def _spikes(*shape: int) -> Any:
    import torch

    return (torch.rand(*shape) > 0.7).float()


@stored_without_slayer
def digits_like(path: str | Path, seed: int = 0) -> Path:
    """The project's digits network: cuba.Dense 64 -> 128 -> 10."""
    slayer = _slayer(seed)
    blocks = [slayer.block.cuba.Dense(CUBA_PARAMS, 64, 128), slayer.block.cuba.Dense(CUBA_PARAMS, 128, 10)]
    return export_blocks(path, blocks, _spikes(4, 64, 16))


@stored_without_slayer
def conv_net(path: str | Path, seed: int = 0) -> Path:
    """cuba.Conv 2 -> 3 channels (3x3, stride 2, pad 1) on H=8, W=10, Flatten, Dense 60 -> 10."""
    slayer = _slayer(seed)
    blocks = [slayer.block.cuba.Conv(CUBA_PARAMS, 2, 3, 3, stride=2, padding=1, weight_scale=2),
              slayer.block.cuba.Flatten(),
              slayer.block.cuba.Dense(CUBA_PARAMS, 3 * 4 * 5, 10)]
    return export_blocks(path, blocks, _spikes(2, 2, 8, 10, 8))


@stored_without_slayer
def pool_net(path: str | Path, seed: int = 0) -> Path:
    """cuba.Conv, cuba.Pool (netx cannot run it), Flatten, Dense."""
    slayer = _slayer(seed)
    blocks = [slayer.block.cuba.Conv(CUBA_PARAMS, 2, 4, 3, padding=1, weight_scale=2),
              slayer.block.cuba.Pool(CUBA_PARAMS, 2, stride=2),
              slayer.block.cuba.Flatten(),
              slayer.block.cuba.Dense(CUBA_PARAMS, 4 * 4 * 4, 10)]
    return export_blocks(path, blocks, _spikes(2, 2, 8, 8, 8))


@stored_without_slayer
def recurrent_net(path: str | Path, seed: int = 0) -> Path:
    """cuba.Dense 16 -> 12, cuba.Recurrent 12 -> 8 (a ``dense_rec`` layer)."""
    slayer = _slayer(seed)
    blocks = [slayer.block.cuba.Dense(CUBA_PARAMS, 16, 12), slayer.block.cuba.Recurrent(CUBA_PARAMS, 12, 8)]
    return export_blocks(path, blocks, _spikes(2, 16, 8))


@stored_without_slayer
def delay_net(path: str | Path, seed: int = 0, delays: Sequence[int] = (0, 1, 2, 3, 4, 5)) -> Path:
    """cuba.Dense 10 -> 6 with learnable axonal delays set to ``delays``, then Dense 6 -> 3."""
    import torch

    slayer = _slayer(seed)
    blocks = [slayer.block.cuba.Dense(CUBA_PARAMS, 10, len(delays), delay=True),
              slayer.block.cuba.Dense(CUBA_PARAMS, len(delays), 3)]
    x = _spikes(2, 10, 12)
    forward(blocks, x)
    with torch.no_grad():
        blocks[0].delay.delay.copy_(torch.tensor(delays, dtype=torch.float).reshape(blocks[0].delay.delay.shape))
    return export_blocks(path, blocks, x)


@stored_without_slayer
def sigma_delta_net(path: str | Path, seed: int = 0) -> Path:
    """sigma_delta.Input 10, Dense 10 -> 6, Output 6 -> 3: graded spikes."""
    import torch

    slayer = _slayer(seed)
    params = {"threshold": 0.1, "tau_grad": 0.5, "scale_grad": 1.0, "requires_grad": False,
              "activation": torch.nn.functional.relu}
    blocks = [slayer.block.sigma_delta.Input(params), slayer.block.sigma_delta.Dense(params, 10, 6),
              slayer.block.sigma_delta.Output(params, 6, 3)]
    return export_blocks(path, blocks, torch.rand(2, 10, 6))


# --- crafted files ----------------------------------------------------------------------

def cuba_neuron(**overrides: Any) -> dict[str, Any]:
    """Device parameters as slayer's CUBA neuron exports them (threshold 1.25, decays
    0.25 and 0.03)."""
    return {"type": "CUBA", "iDecay": 1024, "vDecay": 123, "vThMant": 80, "refDelay": 1,
            "gradedSpike": False, **overrides}


def dense_layer(weight: np.ndarray, neuron: Optional[dict[str, Any]] = None,
                delay: Optional[np.ndarray] = None, bias: Optional[np.ndarray] = None,
                weight_rec: Optional[np.ndarray] = None) -> dict[str, Any]:
    """A dense (or, with ``weight_rec``, dense_rec) layer; ``weight`` is (out, in)."""
    weight = np.asarray(weight, dtype=np.float32)
    layer = {"type": "dense_rec" if weight_rec is not None else "dense",
             "shape": np.array([weight.shape[0]]), "inFeatures": weight.shape[1],
             "outFeatures": weight.shape[0], "weight": weight,
             "neuron": cuba_neuron() if neuron is None else neuron}
    for key, value in (("delay", delay), ("bias", bias), ("weight_rec", weight_rec)):
        if value is not None:
            layer[key] = np.asarray(value, dtype=np.float32)
    return layer


def conv_layer(weight: np.ndarray, output_chw: tuple[int, int, int], stride: int = 1,
               padding: int = 0, neuron: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """A conv layer; ``weight`` is (out, in, kH, kW) and ``output_chw`` its output, as
    slayer stores them."""
    weight = np.asarray(weight, dtype=np.float32)
    return {"type": "conv", "shape": np.array(output_chw), "inChannels": weight.shape[1],
            "outChannels": weight.shape[0], "kernelSize": np.array(weight.shape[2:]),
            "stride": np.array([stride, stride]), "padding": np.array([padding, padding]),
            "dilation": np.array([1, 1]), "groups": 1, "weight": weight,
            "neuron": cuba_neuron() if neuron is None else neuron}


def raw_layer(kind: str, shape: Sequence[int], **datasets: Any) -> dict[str, Any]:
    """Any layer type, e.g. ``raw_layer("average", [10])`` (lava-dl cannot export its own
    Average block: ``AbstractAverage.export_hdf5`` reads a neuron it does not have)."""
    return {"type": kind, "shape": np.array(shape), **datasets}


def write_netx(path: str | Path, layers: Sequence[dict[str, Any]]) -> Path:
    """Write ``layers`` into ``layer/{i}`` the way slayer's ``export_hdf5`` does; a dict
    value (``neuron``, or ``weight`` as ``{"real": ..., "imag": ...}``) becomes a group."""
    path = Path(path)
    with h5py.File(path, "w") as handle:
        group = handle.create_group("layer")
        for index, layer in enumerate(layers):
            node = group.create_group(str(index))
            for key, value in layer.items():
                if key == "type" and isinstance(value, str):
                    node.create_dataset("type", (1,), "S10", [value.encode("ascii")])
                elif isinstance(value, dict):
                    folder = node.create_group(key)
                    for name, item in value.items():
                        folder.create_dataset(name, data=item)
                else:
                    node.create_dataset(key, data=value)
    return path


def digits_weights(seed: int = 0) -> list[np.ndarray]:
    """Even integer weights in -256..254, shaped like the digits network's."""
    rng = np.random.default_rng(seed)
    return [2 * rng.integers(-20, 21, size=(128, 64)), 2 * rng.integers(-20, 21, size=(10, 128))]


def write_manifest(net_path: str | Path, schedule: Optional[FrameSchedule] = None,
                   dassdp: Optional[dict[str, Any]] = None,
                   input_shape: tuple[int, int, int] = (1, 8, 8),
                   port_shape: Optional[tuple[int, ...]] = None,
                   layers: Optional[list[LayerInfo]] = None) -> Path:
    """Write ``manifest.json`` beside ``net_path``; layers default to the file's."""
    net_path = Path(net_path)
    if layers is None:
        layers = [LayerInfo(layer.name, layer.type, layer.shape) for layer in read_netx(net_path).layers]
    manifest = Manifest(network_file=net_path.name, input_shape=input_shape,
                        port_shape=port_shape or (int(np.prod(input_shape)),), layers=layers,
                        schedule=schedule or FrameSchedule(gap=2), dassdp=dassdp)
    path = net_path.with_name("manifest.json")
    manifest.save(path)
    return path
