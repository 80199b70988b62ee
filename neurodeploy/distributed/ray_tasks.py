"""Evaluation and sweeps on Ray: samples sharded into tasks, grid runs as tasks.

``--ray ADDRESS`` joins a running cluster (``ray start --head`` prints the address; a
``ray://host:10001`` client address works too); ``--ray local`` starts Ray on this machine
for the length of the command. Without ``--ray`` nothing here runs.

Each task runs in a Ray worker: a process of its own, started by Ray's raylet and not a
daemonic ``multiprocessing`` child, so Lava may start its runtime's processes there (a
daemonic process may not have children). A Lava task builds its own runtime, stops it in
``finally`` and runs under the runner's watchdog, as in one process.

Faults: a worker that dies mid-task (killed, out of memory, node lost) is retried by Ray
(``max_retries``); a task is a function of its inputs alone, so the retried result is the
one a clean run gives. An exception a task raises is not retried: a
:class:`~neurodeploy.errors.NeurodeployError` (bad input) fails the command once with its
own message, and the other tasks are cancelled.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from typing import Any, Callable, Iterator, Optional, Sequence, TypeVar

from neurodeploy.blocks import NetworkTiming, runnable_blocks
from neurodeploy.errors import DistributedError, NeurodeployError
from neurodeploy.inputs import BiasInput, ImageInput, Inputs, SpikeInput
from neurodeploy.netxfile import NetxNetwork
from neurodeploy.results import SimulationResult

LOCAL = "local"
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
    try:
        if address == LOCAL:
            ray.init(include_dashboard=False, logging_level="WARNING")
        else:
            ray.init(address=address, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise DistributedError(f"--ray {address}: cannot start or reach Ray ({_first_line(error)}); "
                               f"expected 'local' or a cluster address such as 127.0.0.1:6379") from None
    try:
        yield
    finally:
        ray.shutdown()


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
            raise DistributedError(f"a Ray task could not finish ({_first_line(error)}); a lost worker "
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
    it (no delay buffer, no recurrent spikes; see :mod:`neurodeploy.sim.emulator`)."""
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
        return replace(inputs, images=inputs.images[start:stop], labels=labels)
    if isinstance(inputs, SpikeInput):
        return replace(inputs, spikes=inputs.spikes[start:stop], labels=labels)
    if isinstance(inputs, BiasInput):
        return replace(inputs, bias=inputs.bias[start:stop], labels=labels)
    raise TypeError(f"not an input: {type(inputs).__name__}")


def drawn_spikes(network: NetxNetwork, inputs: Inputs) -> Inputs:
    """Rate-coded images as the spikes one run draws from its one seeded generator, in
    sample order (``encode_steps``); shards of the images would each restart it. Other
    inputs are deterministic and are returned as they are."""
    if not (isinstance(inputs, ImageInput) and inputs.schedule.temporal_kind == "rate"):
        return inputs
    import torch

    from neurodeploy.encoding import encode_steps

    spikes = encode_steps(inputs.images, inputs.schedule, torch.Generator().manual_seed(inputs.seed)).numpy()
    blocks = runnable_blocks(network)
    if network.input_shape and blocks and blocks[0].layer.type != "conv":  # a dense port takes them flat
        spikes = spikes.reshape(*spikes.shape[:2], *reversed(network.input_shape))
    return SpikeInput(spikes, inputs.labels)


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
    parts = shards_for(network, drawn_spikes(network, inputs), shards, reset, reset_interval)
    began = time.perf_counter()
    results = run_tasks(run, [(part,) for part in parts])
    timing = NetworkTiming.of(network, inputs.frame_steps, reset, reset_interval)
    merged = SimulationResult.concatenate(results, timing.total_steps(inputs.samples), time.perf_counter() - began)
    return replace(merged, extra={**merged.extra, "ray_tasks": len(parts)})


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
