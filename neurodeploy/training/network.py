"""SLAYER CUBA networks built from the config: strided convs, a flatten, a dense stack.

Blocks are lava-dl's own (`slayer.block.cuba`), so the neuron parameters, the 8-bit weight
quantisation and the one-step-per-block latency (`delay_shift=True`) are exactly what netx
exports and Lava runs. Block ``i`` becomes netx layer ``i``; its name is ``f"{type}{i}"``.
Their CUBA neurons compute with :mod:`neurodeploy.training.fused_cuba` (the same bits as
SLAYER's code, several times faster; ``NEURODEPLOY_DYNAMICS=slayer`` keeps lava-dl's).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from neurodeploy.training.lavadl import slayer

from neurodeploy.core.blocks import chain_hops, layer_hops
from neurodeploy.core.config import ModelConfig
from neurodeploy.core.manifest import LayerInfo
from neurodeploy.training.fused_cuba import Dynamics, dynamics_of, use_dynamics


@dataclass(frozen=True)
class ForwardResult:
    """Output spikes ``(N, classes, T)`` and every block's output spikes, in order."""

    output: torch.Tensor
    layer_spikes: list[torch.Tensor]


class SpikingNetwork(torch.nn.Module):
    """A feed-forward SLAYER CUBA network; input ``(N, C, H, W, T)`` spikes.

    ``dynamics`` computes its neurons (:func:`~neurodeploy.training.fused_cuba.use_dynamics`;
    default ``NEURODEPLOY_DYNAMICS`` or ``fused``)."""

    def __init__(self, config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int,
                 dynamics: Optional[Dynamics] = None):
        super().__init__()
        self.config = config
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        neuron = config.neuron.dump()
        blocks: list[torch.nn.Module] = []
        channels, height, width = input_shape
        for layer in config.conv:
            blocks.append(slayer.block.cuba.Conv(
                neuron, channels, layer.channels, layer.kernel, stride=layer.stride,
                padding=layer.padding, weight_norm=config.weight_norm, delay_shift=True))
            channels = layer.channels
            height = (height + 2 * layer.padding - layer.kernel) // layer.stride + 1
            width = (width + 2 * layer.padding - layer.kernel) // layer.stride + 1
        if config.conv:
            blocks.append(slayer.block.cuba.Flatten())
        features = channels * height * width
        for width_out in [*config.hidden, num_classes]:
            blocks.append(slayer.block.cuba.Dense(
                neuron, features, width_out, weight_norm=config.weight_norm, delay_shift=True))
            features = width_out
        self.blocks = torch.nn.ModuleList(blocks)
        use_dynamics(self, dynamics)

    @property
    def dynamics(self) -> str:
        """How the neurons compute: ``fused``, ``torch`` or ``slayer``."""
        return dynamics_of(self)

    @property
    def is_conv(self) -> bool:
        return bool(self.config.conv)

    @property
    def layer_names(self) -> list[str]:
        return [f"{_block_type(block)}{index}" for index, block in enumerate(self.blocks)]

    def forward(self, spikes: torch.Tensor) -> ForwardResult:
        x = spikes if self.is_conv else spikes.flatten(1, -2)
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return ForwardResult(x, outputs)

    def layer_info(self) -> list[LayerInfo]:
        """Names, netx types and output shapes; valid after one forward pass."""
        infos = []
        for name, block in zip(self.layer_names, self.blocks):
            shape = tuple(int(size) for size in block.shape) if hasattr(block, "shape") else ()
            infos.append(LayerInfo(name, _block_type(block), shape))
        return infos

    @property
    def layer_hops(self) -> tuple[int, ...]:
        """Each block's hops, as netx counts them once exported (a flatten adds none)."""
        return layer_hops(hasattr(block, "synapse") for block in self.blocks)

    @property
    def hops(self) -> int:
        """Steps from the input to the output block (the schedule's default gap)."""
        return chain_hops(hasattr(block, "synapse") for block in self.blocks)

    def named_synapses(self) -> dict[str, torch.nn.Module]:
        """Blocks with a synapse (weights), by layer name: what DA-SSDP may adapt."""
        return {name: block for name, block in zip(self.layer_names, self.blocks)
                if hasattr(block, "synapse")}


def _block_type(block: torch.nn.Module) -> str:
    if isinstance(block, slayer.block.cuba.Conv):
        return "conv"
    if isinstance(block, slayer.block.cuba.Flatten):
        return "flatten"
    return "dense"
