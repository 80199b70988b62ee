"""The four spike encodings of encoding.md, vectorised in torch, time on the last axis.

Each encoder is a small pure function over an integer image tensor, in the style of
snnTorch's ``spikegen``. ``encode`` assembles a whole frame from the frame schedule, so
the positions of the temporal part and of every bit-plane window come from one place.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from neurodeploy.core.encoding.schedule import FrameSchedule
from neurodeploy.core.errors import DataError


def image_dtype(n_bits: int) -> str:
    """The unsigned type that holds ``n_bits`` intensities: uint8 up to 8 bits, else uint16."""
    return "uint8" if n_bits <= 8 else "uint16"


def check_intensities(images: np.ndarray | torch.Tensor, n_bits: int = 8,
                      source: str = "images") -> None:
    """Refuse anything but integer pixels in ``0..2**n_bits-1``, naming what was found.

    Any integer dtype passes if its values fit (a uint8 image is a valid 12-bit input);
    the messages name the dtype that ``n_bits`` calls for. Rank is not checked here: the
    Lava generator holds images in its port's layout.
    """
    dtype = str(images.dtype).removeprefix("torch.")
    if not _is_integer(images):
        raise DataError(f"{source}: dtype {dtype} is not an integer image type; expected "
                        f"{image_dtype(n_bits)} for encoding.n_bits={n_bits} "
                        f"(use from_unit_float for floats in [0, 1])")
    if images.size if isinstance(images, np.ndarray) else images.numel():
        low, high = int(images.min()), int(images.max())
        limit = 2 ** n_bits - 1
        if low < 0 or high > limit:
            raise DataError(f"{source}: {dtype} values span {low}..{high}; expected 0..{limit} "
                            f"({image_dtype(n_bits)}) for encoding.n_bits={n_bits}")


def _is_integer(images: np.ndarray | torch.Tensor) -> bool:
    if isinstance(images, torch.Tensor):
        kind = images.dtype
        return not (kind.is_floating_point or kind.is_complex or kind == torch.bool)
    return np.issubdtype(images.dtype, np.integer)


def check_images(images: np.ndarray | torch.Tensor, n_bits: int = 8,
                 source: str = "images") -> torch.Tensor:
    """Return ``images`` as an int64 tensor after checking dtype, rank and range.

    Accepts integers of rank 4 ``(N, C, H, W)`` with values in ``0..2**n_bits-1``: uint8
    up to 8 bits, uint16 up to 16. Floats are refused: convert them explicitly with
    :func:`from_unit_float`.
    """
    check_intensities(images, n_bits, source)
    if images.ndim != 4:
        raise DataError(f"{source}: shape {tuple(images.shape)} has rank {images.ndim}; "
                        f"expected rank 4 (N, C, H, W)")
    if isinstance(images, np.ndarray):  # torch 2.3 cannot compute on uint16: widen first
        return torch.from_numpy(images.astype(np.int64))
    return images.to(torch.int64)


def from_unit_float(images: np.ndarray | torch.Tensor, n_bits: int = 8) -> torch.Tensor:
    """Convert floats in [0, 1] with ``round(x * (2**n_bits - 1))``; refuse anything else."""
    tensor = torch.as_tensor(images, dtype=torch.float64)
    if torch.isnan(tensor).any():
        raise DataError(f"images of shape {tuple(tensor.shape)} contain NaN")
    if tensor.numel() and (tensor.min() < 0 or tensor.max() > 1):
        raise DataError(f"float images span {float(tensor.min())}..{float(tensor.max())}; "
                        f"expected values in [0, 1]")
    return torch.round(tensor * (2 ** n_bits - 1)).to(torch.int64)


def bit_planes(images: torch.Tensor, n_bits: int = 8) -> torch.Tensor:
    """``B_k = floor(I / 2**k) mod 2`` for k = 0 (LSB) .. n_bits-1, stacked on a new last axis."""
    bits = torch.arange(n_bits, device=images.device)
    return (images.to(torch.int64).unsqueeze(-1) >> bits) & 1


def ttfs_step(intensity: torch.Tensor | np.ndarray, steps: int,
              n_bits: int = 8) -> torch.Tensor | np.ndarray:
    """Spike step ``round((1 - I/Imax) * (steps - 1))``, rounding halves up, in integers.

    Integer arithmetic makes the torch encoder and the Lava generator agree bit for bit.
    Works on int64 torch tensors and numpy arrays alike.
    """
    imax = 2 ** n_bits - 1
    return ((imax - intensity) * (steps - 1) * 2 + imax) // (2 * imax)


def ttfs(images: torch.Tensor, steps: int, n_bits: int = 8) -> torch.Tensor:
    """Time-to-first-spike: one spike, earlier for brighter pixels, none for zero."""
    images = images.to(torch.int64)
    spike_at = ttfs_step(images, steps, n_bits)
    time = torch.arange(steps, device=images.device)
    return ((spike_at.unsqueeze(-1) == time) & (images.unsqueeze(-1) > 0)).float()


def sample_seed(seed: int, index: int) -> int:
    """The seed of sample ``index``'s rate spikes in a set encoded with ``seed``: mixed by
    numpy's ``SeedSequence``, so neighbouring seeds or samples give unrelated streams."""
    return int(np.random.SeedSequence((int(seed), int(index))).generate_state(1, np.uint64)[0]) >> 1


def rate(images: torch.Tensor, steps: int, n_bits: int = 8, *, seed: int = 0, first: int = 0) -> torch.Tensor:
    """Bernoulli spikes each step with probability ``I / (2**n_bits - 1)``.

    ``images[k]`` is sample ``first + k`` of a set encoded with ``seed``, and its spikes
    are drawn from a generator of its own seeded with (``seed``, ``first + k``): a sample
    gets the same spikes whatever batch or shard it is encoded in (the emulator's batches,
    Ray's shards, Lava's spike source and the torch model all see the same ones)."""
    probability = images.to(torch.float32) / (2 ** n_bits - 1)
    draws = torch.empty(*probability.shape, steps, dtype=torch.float32)
    for k in range(len(probability)):
        torch.rand(draws.shape[1:], generator=torch.Generator().manual_seed(sample_seed(seed, first + k)),
                   out=draws[k])
    return (draws.to(probability.device) < probability.unsqueeze(-1)).float()


def bit_plane_train(images: torch.Tensor, schedule: FrameSchedule) -> torch.Tensor:
    """The bit-plane windows of ``schedule`` for every pixel, ``schedule.frame_steps - T`` long."""
    steps = range(schedule.plane_start, schedule.frame_steps)
    phases = [schedule.phase(step) for step in steps]
    bit_of_step = torch.tensor([p.index if p.part == "plane" else 0 for p in phases],
                               dtype=torch.int64, device=images.device)
    emits = torch.tensor([p.part == "plane" and p.emits for p in phases],
                         dtype=torch.bool, device=images.device)
    bits = (images.to(torch.int64).unsqueeze(-1) >> bit_of_step) & 1
    return (bits.bool() & emits).float()


def encode(images: np.ndarray | torch.Tensor, schedule: FrameSchedule, *, seed: int = 0,
           first: int = 0) -> torch.Tensor:
    """Encode ``(N, C, H, W)`` integer images to ``(N, C, H, W, frame_steps)`` float spikes;
    a rate code draws sample ``first + k``'s spikes from (``seed``, ``first + k``) (see :func:`rate`)."""
    pixels = check_images(images, schedule.n_bits)
    if schedule.temporal_kind == "rate":
        temporal = rate(pixels, schedule.temporal_steps, schedule.n_bits, seed=seed, first=first)
    else:
        temporal = ttfs(pixels, schedule.temporal_steps, schedule.n_bits)
    return torch.cat([temporal, bit_plane_train(pixels, schedule)], dim=-1)


def encode_steps(images: np.ndarray | torch.Tensor, schedule: FrameSchedule, *, seed: int = 0, first: int = 0,
                 dtype: torch.dtype = torch.bool) -> torch.Tensor:
    """``encode`` with time second, as backends step it: ``(N, frame_steps, C, H, W)``,
    contiguous, of ``dtype`` (0/1 values; float32 is what a synapse's matrix product takes).

    A rate code draws each sample's spikes from (``seed``, its index ``first + k``), so
    encoding a set in batches or shards gives the spikes of encoding it at once.
    The deterministic codes map each pixel on its own, so they are read from a table of
    ``encode`` over every intensity: one gather instead of a pass per bit-plane."""
    if schedule.temporal_kind == "rate":
        return encode(images, schedule, seed=seed, first=first).movedim(-1, 1).to(dtype).contiguous()
    pixels = check_images(images, schedule.n_bits)
    table = _step_table(schedule, dtype)                      # (frame_steps, levels)
    flat = pixels.reshape(len(pixels), -1)
    steps = table[:, flat.reshape(-1)].reshape(len(table), *flat.shape)
    return steps.transpose(0, 1).contiguous().reshape(len(pixels), len(table), *pixels.shape[1:])


@lru_cache(maxsize=8)
def _step_table(schedule: FrameSchedule, dtype: torch.dtype) -> torch.Tensor:
    """``encode``'s spikes of every intensity, ``(frame_steps, 2**n_bits)``."""
    levels = torch.arange(2 ** schedule.n_bits, dtype=torch.int64).reshape(-1, 1, 1, 1)
    return encode(levels, schedule)[:, 0, 0, 0].T.to(dtype).contiguous()



@lru_cache(maxsize=8)
def level_steps(schedule: FrameSchedule) -> tuple[np.ndarray, np.ndarray]:
    """For a deterministic code, the frame steps at which each intensity spikes, as
    ``(pointers, steps)``: intensity ``x`` fires at ``steps[pointers[x]:pointers[x + 1]]``
    (the event emulator builds its input from these instead of the spike trains)."""
    if schedule.temporal_kind == "rate":
        raise ValueError(f"{schedule.encoding} draws its spikes at random; there is no table of them")
    table = _step_table(schedule, torch.bool).T.numpy()        # (levels, frame_steps)
    pointers = np.zeros(len(table) + 1, dtype=np.int64)
    pointers[1:] = np.cumsum(table.sum(axis=1))
    return pointers, np.nonzero(table)[1].astype(np.int64)
