"""The runnable blocks of a netx network and their timing in depth: computed here only.

netx builds one Lava block per ``input`` layer *with* a neuron (netx's ``Input`` block,
driven by its bias) and per synaptic layer (``dense``, ``conv``, ...); a shape-only
``input`` layer and ``flatten`` build nothing. Every synapse adds one step of latency, so
block ``j`` is ``hops`` steps behind the input: 0 for an ``Input`` block, one more for
each synaptic layer on the way.

A sample's frame occupies Lava time steps ``k * F + 1 .. (k + 1) * F`` at the input (Lava
counts from 1). A block ``hops`` deep answers it during ``k * F + 1 + hops ..
(k + 1) * F + hops``: its *window*. With a reset plan, each block's neurons are zeroed at
the first step of every window, i.e. at ``t % F == (1 + hops) % F``, which netx gives
with ``reset_offset = hops`` of the first block (netx adds one per block and one because
time starts at 1). The decision reads the output block's window steps ``0 .. F - 1 -
hops`` (the part of the frame torch also sees); the rest is the drain tail.

The Lava runner, its counters, early exit, the emulator, traces, ``compare`` and
``validate`` all read these numbers from :class:`NetworkTiming`.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING, Iterable, Optional

if TYPE_CHECKING:
    from neurodeploy.core.netxfile import NetxLayer, NetxNetwork


@dataclass(frozen=True)
class Block:
    """One block netx builds: the file's layer and how many steps it lags the input."""

    layer: "NetxLayer"
    hops: int

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def is_input(self) -> bool:
        """netx's ``Input`` block: neurons driven by their bias, no synapse."""
        return self.layer.type == "input"


def layer_hops(synaptic: Iterable[bool]) -> tuple[int, ...]:
    """Each layer's hops in a chain, given which layers have a synapse: the synapses up to
    and including it (the netx file's layers, SLAYER's blocks and NIR's float layers alike)."""
    return tuple(accumulate(int(bool(has)) for has in synaptic))


def chain_hops(synaptic: Iterable[bool]) -> int:
    """Hops of a chain's last layer: steps from its input to its output."""
    hops = layer_hops(synaptic)
    return hops[-1] if hops else 0


def runnable_blocks(network: "NetxNetwork") -> tuple[Block, ...]:
    """The blocks netx builds from ``network``, in order, with their hops."""
    blocks: list[Block] = []
    for layer, hops in zip(network.layers, layer_hops(layer.is_synaptic for layer in network.layers)):
        if layer.type == "input":
            if layer.neuron and not blocks:
                blocks.append(Block(layer, hops))
        elif layer.is_synaptic:
            blocks.append(Block(layer, hops))
    return tuple(blocks)


@dataclass(frozen=True)
class NetworkTiming:
    """Hops, reset steps and windows of every block for frames of ``frame_steps`` steps.

    ``reset_interval`` is netx's: the neurons are zeroed every that many steps, each block
    at its own phase; one frame (the default) zeroes them as each sample's window opens,
    ``None`` never (state carries across samples)."""

    blocks: tuple[Block, ...]
    frame_steps: int
    reset_interval: Optional[int]

    @classmethod
    def of(cls, network: "NetxNetwork", frame_steps: int, reset: bool = True,
           reset_interval: Optional[int] = None) -> "NetworkTiming":
        interval = (reset_interval or int(frame_steps)) if reset else None
        return cls(runnable_blocks(network), int(frame_steps), interval)

    @property
    def resets_per_frame(self) -> bool:
        """Whether every window opens with a reset (samples are then independent)."""
        return self.reset_interval == self.frame_steps

    @property
    def output(self) -> Block:
        return self.blocks[-1]

    @property
    def neurons(self) -> dict[str, int]:
        """Neurons of each block, by name (what a spike count is divided by for a rate)."""
        return {block.name: block.layer.n_neurons for block in self.blocks}

    @property
    def hops(self) -> int:
        """Steps from the input to the output block."""
        return self.output.hops if self.blocks else 0

    @property
    def netx_reset(self) -> dict[str, int]:
        """The reset keywords of ``netx.hdf5.Network``: ``reset_offset`` is the first block's
        hops, so each block resets as its window opens (none without reset)."""
        if self.reset_interval is None:
            return {}
        return {"reset_interval": self.reset_interval,
                "reset_offset": self.blocks[0].hops if self.blocks else 0}

    def reset_phase(self, block: Block) -> Optional[int]:
        """``t % reset_interval`` at which ``block`` resets; ``None`` without reset."""
        if self.reset_interval is None:
            return None
        return (1 + block.hops) % self.reset_interval

    def resets(self, block: Block, steps: int) -> list[bool]:
        """For Lava steps ``1 .. steps``: whether ``block`` resets at each."""
        phase = self.reset_phase(block)
        return [phase is not None and (step + 1) % self.reset_interval == phase for step in range(steps)]

    def window_start(self, block: Block, sample: int) -> int:
        """First Lava time step (from 1) of ``block``'s window for ``sample``."""
        return sample * self.frame_steps + 1 + block.hops

    def window_steps(self, block: Block) -> int:
        """Steps of ``block``'s window that answer the frame itself (torch's view of it);
        the rest is the drain tail."""
        return max(self.frame_steps - block.hops, 0)

    @property
    def decode_steps(self) -> int:
        """Window steps of the output block the decision counts."""
        return self.window_steps(self.output) if self.blocks else self.frame_steps

    def total_steps(self, samples: int) -> int:
        """Lava steps that run ``samples`` frames and drain the last one to the output."""
        return samples * self.frame_steps + self.hops
