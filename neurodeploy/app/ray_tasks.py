"""Evaluation and sweeps on Ray: samples sharded into tasks, grid runs as tasks.

``--ray ADDRESS`` joins a running cluster (``ray start --head`` prints the address; a
``ray://host:10001`` client address works too); ``--ray local`` starts Ray on this machine
for the length of the command. Without ``--ray`` nothing here runs. An address must
resolve and accept a connection within :data:`CONNECT_TIMEOUT_S`, or the command stops
with one line naming it (Ray alone would retry for minutes).

Each task runs in a Ray worker: a process of its own, started by Ray's raylet and not a
daemonic ``multiprocessing`` child, so Lava may start its runtime's processes there (a
daemonic process may not have children). A Lava task builds its own runtime, stops it in
``finally`` and runs under the runner's watchdog, as in one process.

Faults: a worker that dies mid-task (killed, out of memory, node lost) is retried by Ray
(``max_retries``); a task is a function of its inputs alone, so the retried result is the
one a clean run gives. An exception a task raises is not retried: a
:class:`~neurodeploy.core.errors.NeurodeployError` (bad input) fails the command once with its
own message, and the other tasks are cancelled.
"""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from typing import Any, Callable, Iterator, Optional, Sequence, TypeVar

from neurodeploy.core.blocks import NetworkTiming
from neurodeploy.core.errors import DistributedError, NeurodeployError, first_line
from neurodeploy.core.inputs import BiasInput, ImageInput, Inputs, SpikeInput
from neurodeploy.core.netxfile import NetxNetwork
from neurodeploy.core.results import SimulationResult

LOCAL = "local"
AUTO = "auto"  # Ray's own: the cluster this machine last started, which Ray finds at once or not at all
#: Seconds a cluster address has to resolve and accept a connection.
CONNECT_TIMEOUT_S = 10.0
#: Longest address taken (a host name is at most 253 characters).
MAX_ADDRESS = 300
TASK_RETRIES = 3
"""Times Ray re-runs a task whose worker died; an exception raised by the task is final."""

Result = TypeVar("Result")


@contextmanager
def ray_session(address: str) -> Iterator[None]:
    """Ray for the block: a local instance (``local``) or the cluster at ``address``,
    shut down on leaving; a Ray the caller already started is used and left running."""
    import ray

    if ray.is_initialized():
        yield
        return
    if address not in (LOCAL, AUTO):
        check_address(address)
    try:
        if address == LOCAL:
            ray.init(include_dashboard=False, logging_level="WARNING")
        else:
            ray.init(address=address, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise DistributedError(f"--ray {address}: cannot start or reach Ray ({first_line(error)}); "
                               f"expected 'local' or a cluster address such as 127.0.0.1:6379") from None
    try:
        yield
    finally:
        ray.shutdown()


def check_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse, within ``timeout_s``, a cluster address that is malformed, does not resolve
    or where nothing accepts a connection: ``ray.init`` itself retries such an address for
    minutes without a word. (A service that answers but is not Ray is left to Ray.)"""
    host, port = _host_port(address)
    deadline = time.monotonic() + timeout_s
    found: list[Any] = []

    def resolve() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as error:
            found.append(error)

    worker = threading.Thread(target=resolve, name="neurodeploy-ray-resolve", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not found:
        raise DistributedError(f"--ray {_shown(address)}: {host} did not resolve within {timeout_s:g} s")
    if isinstance(found[0], BaseException):
        raise DistributedError(f"--ray {_shown(address)}: cannot resolve {_shown(host)} ({_reason(found[0])})")
    problem: Optional[BaseException] = None
    for family, kind, protocol, _, target in found[0]:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            with socket.socket(family, kind, protocol) as probe:
                probe.settimeout(left)
                probe.connect(target)
            return
        except OSError as error:
            problem = error
    why = _reason(problem) if problem is not None else "no answer"
    raise DistributedError(f"--ray {_shown(address)}: nothing answered at {_shown(host)}:{port} within "
                           f"{timeout_s:g} s ({why}); start the cluster (ray start --head) or use --ray local")


def _host_port(address: str) -> tuple[str, int]:
    """``host`` and ``port`` of ``[ray://]host:port`` (``[v6]:port`` too)."""
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = rest.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or len(address) > MAX_ADDRESS:
        raise DistributedError(f"--ray {_shown(address)}: expected 'local', 'auto' or a cluster address HOST:PORT "
                               f"(port 1..65535), e.g. 127.0.0.1:6379 or ray://127.0.0.1:10001")
    return host, int(port)


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return first_line(error)


def _shown(text: str) -> str:
    return text if len(text) <= 80 else f"{text[:77]}..."


def cluster_cpus() -> int:
    """CPUs the connected Ray cluster offers, the natural number of shards."""
    import ray

    return max(int(ray.cluster_resources().get("CPU", 1)), 1)


def neurodeploy_task(function: Callable[..., Result], *args: Any) -> Result:
    """What every Ray task runs (its name is the worker's process title while it runs)."""
    return function(*args)


@lru_cache(maxsize=None)
def _remote():
    import ray

    return ray.remote(max_retries=TASK_RETRIES, retry_exceptions=False, num_cpus=1)(neurodeploy_task)


def run_tasks(function: Callable[..., Result], calls: Sequence[tuple]) -> list[Result]:
    """``[function(*args) for args in calls]``, each call a Ray task, results in call order.

    The first task to fail stops the command: its NeurodeployError is raised as it is
    (once, not retried), the other tasks are cancelled; a worker that died more than
    :data:`TASK_RETRIES` times is a :class:`DistributedError`."""
    import ray
    from ray.exceptions import RayError, RayTaskError, TaskCancelledError

    refs = [_remote().remote(function, *args) for args in calls]
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            ray.get(done)
    except BaseException as error:  # a failed task, a lost worker, Ctrl-C: stop the others first
        _cancel(pending)
        if isinstance(error, RayTaskError) and isinstance(error.cause, NeurodeployError):
            raise error.cause from None
        if isinstance(error, RayError) and not isinstance(error, (RayTaskError, TaskCancelledError)):
            raise DistributedError(f"a Ray task could not finish ({first_line(error)}); a lost worker "
                                   f"is retried {TASK_RETRIES} times") from None
        raise
    return ray.get(refs)


def _cancel(refs: Sequence[Any]) -> None:
    """Ask the other tasks to stop: a Lava task then aborts its runtime as on Ctrl-C."""
    import ray

    for ref in refs:
        ray.cancel(ref)


def independent_samples(network: NetxNetwork, timing: NetworkTiming) -> bool:
    """Whether a sample's result depends on that sample alone, so that shards of the
    samples give what one run gives: every window opens with a reset and nothing survives
    it (no delay buffer, no recurrent spikes; see :mod:`neurodeploy.backends.emulator.engine`)."""
    return timing.resets_per_frame and not any(
        layer.delay is not None or layer.type == "dense_rec" for layer in network.layers)


def shard(inputs: Inputs, count: int) -> list[Inputs]:
    """``inputs`` cut into ``count`` consecutive ranges of samples (sizes differ by one at most)."""
    count = max(1, min(count, inputs.samples))
    bounds = [inputs.samples * part // count for part in range(count + 1)]
    return [_samples(inputs, start, stop) for start, stop in zip(bounds, bounds[1:])]


def _samples(inputs: Inputs, start: int, stop: int) -> Inputs:
    labels = None if inputs.labels is None else inputs.labels[start:stop]
    if isinstance(inputs, ImageInput):
        return replace(inputs, images=inputs.images[start:stop], labels=labels, first=inputs.first + start)
    if isinstance(inputs, SpikeInput):
        return replace(inputs, spikes=inputs.spikes[start:stop], labels=labels)
    if isinstance(inputs, BiasInput):
        return replace(inputs, bias=inputs.bias[start:stop], labels=labels)
    raise TypeError(f"not an input: {type(inputs).__name__}")


def shards_for(network: NetxNetwork, inputs: Inputs, shards: Optional[int] = None, reset: bool = True,
               reset_interval: Optional[int] = None) -> list[Inputs]:
    """The shards to run: ``shards`` (default: the cluster's CPUs) when samples are
    independent, else one (state carries from sample to sample)."""
    timing = NetworkTiming.of(network, inputs.frame_steps, reset, reset_interval)
    return shard(inputs, (shards or cluster_cpus()) if independent_samples(network, timing) else 1)


def simulate_sharded(run: Callable[[Inputs], SimulationResult], network: NetxNetwork, inputs: Inputs, *,
                     shards: Optional[int] = None, reset: bool = True,
                     reset_interval: Optional[int] = None) -> SimulationResult:
    """``run(inputs)`` (one backend's simulation of ``network``) over shards of the samples,
    one Ray task each, merged in sample order: bit for bit what ``run(inputs)`` returns
    when samples are independent; ``extra["ray_tasks"]`` says how many tasks ran."""
    parts = shards_for(network, inputs, shards, reset, reset_interval)
    began = time.perf_counter()
    results = run_tasks(run, [(part,) for part in parts])
    timing = NetworkTiming.of(network, inputs.frame_steps, reset, reset_interval)
    merged = SimulationResult.concatenate(results, timing.total_steps(inputs.samples), time.perf_counter() - began)
    return replace(merged, extra={**merged.extra, "ray_tasks": len(parts)})
