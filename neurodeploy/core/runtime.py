"""Where torch computes: the device (CPU or a CUDA GPU) and the CPU thread count; where
numba caches the compiled kernels (the user's cache folder) and how long compiling took.

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
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Literal, Union

from neurodeploy.core.errors import ConfigError

if TYPE_CHECKING:
    import torch

THREADS_VARIABLE = "NEURODEPLOY_THREADS"
DEFAULT_THREADS = 1
Dynamics = Literal["fused", "torch", "slayer"]
DYNAMICS: tuple[str, ...] = ("fused", "torch", "slayer")
DYNAMICS_VARIABLE = "NEURODEPLOY_DYNAMICS"


def chosen_dynamics() -> Dynamics:
    """How training computes the CUBA neurons: ``NEURODEPLOY_DYNAMICS``, or ``fused`` when it
    is unset or empty (read here, without torch, so ``check`` can refuse a bad value)."""
    text = os.environ.get(DYNAMICS_VARIABLE, "").strip()
    if not text:
        return "fused"
    if text not in DYNAMICS:
        raise ConfigError(f"{DYNAMICS_VARIABLE}={text!r}: expected one of {', '.join(DYNAMICS)} "
                          f"(fused: compiled on the CPU, torch operations on a GPU; slayer: lava-dl's own)")
    return text  # type: ignore[return-value]


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


NUMBA_CACHE_VARIABLE = "NUMBA_CACHE_DIR"


def user_cache_dir() -> Path:
    """neurodeploy's folder in the user's cache: ``$XDG_CACHE_HOME`` or ``~/.cache`` (Linux),
    ``~/Library/Caches`` (macOS), ``%LOCALAPPDATA%`` (Windows)."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "neurodeploy"


def use_user_numba_cache() -> None:
    """Numba caches compiled code beside its source by default: inside the installed
    package, read-only in a system install and shared by its users. Called before the
    kernels are compiled, this points numba at the user's cache folder unless
    ``NUMBA_CACHE_DIR`` already says where (child processes inherit the variable)."""
    if os.environ.get(NUMBA_CACHE_VARIABLE):
        return
    os.environ[NUMBA_CACHE_VARIABLE] = str(user_cache_dir() / "numba")
    if "numba" in sys.modules:  # numba read its config when it was imported
        from numba.core import config

        config.CACHE_DIR = os.environ[NUMBA_CACHE_VARIABLE]


class CompileTime:
    """Seconds spent compiling (or loading from numba's cache) inside a :func:`compile_time` block."""

    seconds: float = 0.0


@contextmanager
def compile_time() -> Iterator[CompileTime]:
    """Measure numba's compile and cache loads in the block: the time its global compiler
    lock is held, which a call of already compiled code never takes. A process compiles a
    kernel once, so a second run of the block measures about nothing."""
    from numba.core import event

    measured = CompileTime()
    listener = event.TimingListener()
    with event.install_listener("numba:compiler_lock", listener):
        yield measured
    measured.seconds = listener.duration if listener.done else 0.0
