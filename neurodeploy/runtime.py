"""Where torch computes: the device (CPU or a CUDA GPU) and the CPU thread count.

Threads: torch starts one OpenMP thread per core, and OpenMP threads spin while they wait
for work. On a machine whose cores other processes also use, a spinning thread holds a
core that the thread doing the work needs, and a training step or a SLAYER forward pass
ran about 20x slower with 2 threads than with 1 on a loaded 2-core machine
(``benchmarks/threads.py`` measures it). So neurodeploy computes on **one thread** unless
``NEURODEPLOY_THREADS`` says otherwise (``NEURODEPLOY_THREADS=4``, or ``0`` to keep
torch's own default); ``OMP_WAIT_POLICY=PASSIVE`` (set before torch is imported) makes
waiting threads sleep instead of spin, for those who raise the count.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, Union

from neurodeploy.errors import ConfigError

if TYPE_CHECKING:
    import torch

THREADS_VARIABLE = "NEURODEPLOY_THREADS"
DEFAULT_THREADS = 1


def thread_count() -> int:
    """The torch intra-op threads neurodeploy uses: ``NEURODEPLOY_THREADS`` or 1; 0 means
    torch's default (one per core)."""
    text = os.environ.get(THREADS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_THREADS
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise ConfigError(f"{THREADS_VARIABLE}={text!r}: expected a whole number of threads >= 0 "
                          f"(0: torch's default, one per core)")
    return count


@contextmanager
def threads(count: int | None = None) -> Iterator[None]:
    """Run the block on ``count`` torch threads (default :func:`thread_count`), then restore."""
    import torch

    count = thread_count() if count is None else count
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def resolve_device(name: Union[str, "torch.device"], option: str = "--device") -> "torch.device":
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (a GPU when there is one) as a torch device;
    a :class:`ConfigError` naming ``option`` when CUDA is asked for and there is none."""
    import torch

    text = str(name)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ConfigError(f"{option} {text!r}: expected cpu, cuda, cuda:N or auto") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"{option} {text!r}: expected cpu, cuda, cuda:N or auto")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{option} {text!r}: no CUDA device is available here; use cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"{option} {text!r}: there are {torch.cuda.device_count()} CUDA devices")
    return device


@contextmanager
def exact_cuda() -> Iterator[None]:
    """No TF32 in the block: cuBLAS and cuDNN then multiply float32 in full float32
    (TF32 keeps 10 mantissa bits, which would round integer weights above 2**11)."""
    import torch

    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
