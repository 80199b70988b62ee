"""Data-parallel training on torch.distributed: one process per rank, DistributedDataParallel.

``torchrun --nproc_per_node N -m neurodeploy train CONFIG`` starts N processes with
``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_ADDR``/``MASTER_PORT`` set;
:func:`process_group` joins their group for the training run (gloo on the CPU, NCCL on
GPUs) and leaves it afterwards. A caller that started a group itself (a test, a notebook)
keeps it: :meth:`World.current` uses it and nothing here destroys it.

``train.batch_size`` stays the *global* batch: each rank takes ``batch_size / N`` samples
of every batch the single-process loop would take (:meth:`World.local_order`), and the
summed loss is scaled by N so that DDP's gradient average is the single-process gradient.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import numpy as np
import torch
import torch.distributed as dist

from neurodeploy.core.errors import ConfigError


@dataclass(frozen=True)
class World:
    """This process's place in the group: its rank, the number of ranks, its device."""

    rank: int
    size: int
    device: torch.device

    @classmethod
    def current(cls, device: torch.device) -> Optional["World"]:
        """The initialised process group, or ``None`` when training runs in one process.
        On CUDA each rank takes the GPU of its ``LOCAL_RANK``."""
        if not in_group():
            return None
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", dist.get_rank() % torch.cuda.device_count())))
            torch.cuda.set_device(device)
        return cls(dist.get_rank(), dist.get_world_size(), device)

    @property
    def is_main(self) -> bool:
        """Rank 0: the only one that writes checkpoints, exports and reports."""
        return self.rank == 0

    def local_batch_size(self, batch_size: int) -> int:
        if batch_size % self.size:
            raise ConfigError(f"train.batch_size={batch_size} is the global batch; with {self.size} "
                              f"processes it must be a multiple of {self.size}")
        return batch_size // self.size

    def local_order(self, order: np.ndarray) -> np.ndarray:
        """This rank's samples of an epoch whose single-process order is ``order``.

        torch's ``DistributedSampler`` (not shuffling: ``order`` is already the seeded
        shuffle, so resume replays it as before) gives rank ``r`` every ``N``-th sample from
        ``r``, padding the epoch with its first samples to a multiple of ``N``. Local batch
        ``k`` of ``batch_size / N`` samples on every rank then makes up exactly global batch
        ``k`` of the single-process loop; only the last one gains up to ``N - 1`` repeats."""
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(range(len(order)), num_replicas=self.size, rank=self.rank, shuffle=False)
        return np.asarray(order)[np.fromiter(iter(sampler), dtype=np.int64)]

    def wrap(self, network: torch.nn.Module, sample: torch.Tensor) -> torch.nn.Module:
        """``network`` in DistributedDataParallel, after one forward pass of ``sample``.

        SLAYER shapes its neurons lazily: ``neuron.shape`` (which export reads) is set, and
        per-neuron decays are drawn at random when ``shared_param`` is off, in the first
        forward pass; running it before wrapping lets DDP's constructor broadcast rank 0's
        complete parameters, so every replica starts from the same ones.
        ``broadcast_buffers=False``: SLAYER's ``current_state``/``voltage_state`` buffers are
        scratch that its neurons re-create whenever the batch size changes (lava-dl's issues
        on DataParallel), and ranks may hold batches of different sizes; broadcasting them
        before each forward would fail on the mismatched shapes and carries nothing the
        next batch needs (``persistent_state`` is off)."""
        from torch.nn.parallel import DistributedDataParallel

        with torch.no_grad():
            network(sample.to(self.device))
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(network, device_ids=device_ids, broadcast_buffers=False)

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object, e.g. a checkpoint), on every rank."""
        holder = [value if self.is_main else None]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]


def in_group() -> bool:
    """Whether this process is one rank of an initialised torch.distributed group."""
    return dist.is_available() and dist.is_initialized()


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """``values`` summed over all ranks (a new tensor, the same bits on every rank); the
    values themselves outside a group."""
    if not in_group():
        return values
    total = values.detach().to(_collective_device(), copy=True)
    dist.all_reduce(total)
    return total.to(values.device)


def all_gather(values: torch.Tensor) -> torch.Tensor:
    """Every rank's ``values`` (same shape on each), stacked in rank order: ``(ranks, ...)``."""
    if not in_group():
        return values[None]
    local = values.detach().to(_collective_device()).contiguous()
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, local)
    return torch.stack(parts).to(values.device)


def _collective_device() -> torch.device:
    """NCCL reduces tensors on the rank's GPU, gloo on the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def launched_by_torchrun() -> bool:
    """torchrun (or any env:// launcher) sets ``RANK`` and ``WORLD_SIZE`` for each process."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


@contextmanager
def process_group(device: torch.device) -> Iterator[Optional[World]]:
    """The rank's :class:`World` for the block: joins torchrun's group (NCCL when training
    on CUDA, else gloo) and destroys it on leaving; a group the caller already started is
    used and left alone; ``None`` for a plain single-process run."""
    if in_group() or not launched_by_torchrun():
        yield World.current(device)
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    try:
        yield World.current(device)
    except BaseException:
        dist.destroy_process_group()
        raise
    leave_group()


def leave_group() -> None:
    """Destroy the group once every rank got here. Without the barrier, destroying it can
    deadlock in gloo (torch 2.3): the destructor joins gloo's worker threads holding the
    GIL while a worker still frees the tensor of the last collective and waits for the GIL."""
    dist.barrier()
    dist.destroy_process_group()
