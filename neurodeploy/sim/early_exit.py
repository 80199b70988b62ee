"""Early exit on Lava's simulator: a sample stops at the decision rule's step, for real.

The runner (:mod:`neurodeploy.sim.runner`) runs whole frames back to back with a reset
built into every LIF. Here the network is built without that reset and the host steps
Lava one time step at a time: it reads the output layer's spikes, applies
:func:`neurodeploy.decision.should_exit` to the counts so far and, at exit or at the
frame's end, zeroes every Var that carries activity into the next sample (each LIF's
``u`` and ``v``, each synapse's activation buffer ``a_buff``/``a_buf``: the one step of
latency, or the delay line) and points the generator at the next sample. The skipped
steps are never simulated: ``steps_run == exit_steps.sum()``, with no per-sample overhead.

Timing: with the state zeroed before a sample's first step, the output at frame step
``s`` (torch's time axis, the hops of latency included) is produced by the sample's
``(s + 1)``-th Lava step, so an exit step counts frame steps and Lava steps alike. For
networks without bias or axonal delays (what training exports), a threshold never reached
gives exactly the runner's output counts; with them the two differ by design: the
runner's layer ``h`` integrates the previous sample's tail until its reset at frame step
``h`` and lets delayed spikes cross the frame boundary, here every sample starts clean.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Protocol

import numpy as np

from neurodeploy.blocks import NetworkTiming
from neurodeploy.decision import margin, predict_from_counts, should_exit
from neurodeploy.encoding import FrameSchedule
from neurodeploy.errors import NetworkFileError
from neurodeploy.netxfile import NetxNetwork, read_netx
from neurodeploy.sim.runner import abort_runtime, arrange_for_port, build_network, run_with_watchdog, stop_runtime

if TYPE_CHECKING:
    from lava.magma.core.process.process import AbstractProcess
    from lava.magma.core.process.variable import Var


@dataclass(frozen=True)
class EarlyExitRun:
    """Per sample: steps consumed (1..frame_steps), the prediction and output counts then;
    ``steps_run`` Lava steps simulated in all, ``wall_s`` the run's time, compiling included."""

    exit_steps: np.ndarray
    predictions: np.ndarray
    output_counts: np.ndarray
    threshold: float
    steps_run: int
    wall_s: float

    def accuracy(self, labels: np.ndarray) -> float:
        return float(np.mean(self.predictions == labels))

    @property
    def mean_exit_step(self) -> float:
        return float(self.exit_steps.mean())

    @property
    def output_spikes(self) -> np.ndarray:
        """Output spikes each sample emitted before it exited, ``(N,)``."""
        return self.output_counts.sum(axis=1)

    @property
    def steps_per_second(self) -> float:
        return self.steps_run / self.wall_s if self.wall_s else float("nan")


class Stepper(Protocol):
    """What the exit loop needs from a simulation: some steps, and a fresh start."""

    def advance(self, steps: int) -> np.ndarray:
        """Run ``steps`` time steps; the output spike counts of the sample so far, flat."""

    def start(self, sample: int, time_step: int) -> None:
        """Zero the network's state; ``sample``'s frame begins after ``time_step``."""


def simulate_early_exit(network: NetxNetwork | str | Path, images: np.ndarray, schedule: FrameSchedule,
                        threshold: float, timeout_s: Optional[float] = None) -> EarlyExitRun:
    """Run ``images`` (``uint8 (N, C, H, W)``) on Lava ``fixed_pt``, each until it exits.

    One Lava run object serves every sample; the runtime is stopped after it (aborted on a
    fault or Ctrl-C) and a dead child or a hang past ``timeout_s`` (default: the runner's
    deadline) becomes :class:`~neurodeploy.errors.SimulationError`."""
    description = network if isinstance(network, NetxNetwork) else read_netx(network)
    lava = LavaStepper(description, images, schedule)
    samples, frame_steps = len(images), schedule.frame_steps
    outcome: list[tuple[np.ndarray, np.ndarray, int]] = []
    began = time.perf_counter()
    try:
        run_with_watchdog(lambda: outcome.append(run_samples(lava, samples, frame_steps, threshold, lava.quiet)),
                          timeout_s, samples * frame_steps, len(NetworkTiming.of(description, frame_steps).blocks))
        wall_s = time.perf_counter() - began
    except BaseException:
        abort_runtime(lava.generator)
        raise
    stop_runtime(lava.generator)
    exit_steps, counts, steps_run = outcome[0]
    return EarlyExitRun(exit_steps, predict_from_counts(counts), counts, float(threshold),
                        steps_run, wall_s)


def run_samples(stepper: Stepper, samples: int, frame_steps: int, threshold: float,
                quiet: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """Step each sample until :func:`should_exit` holds or its frame ends.

    The counts are read only where the rule could fire: spikes are 0/1, so a step raises
    the top-two margin by at most one, and from margin ``m`` the rule cannot hold for the
    next ``ceil(threshold - m) - 1`` steps; those run in one go (one host round trip
    instead of one per step), and the exit step is the one a step-by-step loop finds.
    ``quiet``: steps after a fresh start in which the output cannot spike (the hops of a
    network without biases, whose state was zeroed), run with the first stretch. Returns
    the exit steps ``(N,)``, the output counts at exit ``(N, classes)`` and the number of
    steps simulated."""
    exit_steps = np.zeros(samples, dtype=np.int64)
    counts = []
    time_step = 0
    for sample in range(samples):
        if sample:  # the first sample starts from the state the network was built with
            stepper.start(sample, time_step)
        step, total = 0, None
        while step < frame_steps:
            need = threshold - (0.0 if total is None else float(margin(total)))
            ahead = max(1, math.ceil(min(need, frame_steps)))
            if total is None and threshold > 0:
                ahead += quiet
            ahead = min(frame_steps - step, ahead)
            total = stepper.advance(ahead)
            step += ahead
            if should_exit(total, threshold):
                break
        time_step += step
        exit_steps[sample] = step
        counts.append(total)
    return exit_steps, np.stack(counts).astype(np.int64), time_step


class LavaStepper:
    """The netx network without periodic reset, fed by the generator, its output counted by
    a :class:`~neurodeploy.procs.counter.RunningCount` that the host reads after each run."""

    def __init__(self, description: NetxNetwork, images: np.ndarray, schedule: FrameSchedule) -> None:
        from lava.magma.core.run_configs import Loihi2SimCfg

        from neurodeploy.procs.counter import RunningCount
        from neurodeploy.procs.generator import HybridSpikeGenerator

        timing = NetworkTiming.of(description, schedule.frame_steps, reset=False)
        if timing.blocks and timing.blocks[0].is_input:
            raise NetworkFileError(f"{description.path}: early exit feeds images; layer "
                                   f"{timing.blocks[0].name} is netx's Input block, driven by bias")
        self.network = build_network(description, timing, images.shape[1:])
        port_images = arrange_for_port(images, self.network.inp.shape)
        self.generator = HybridSpikeGenerator(images=port_images, schedule=schedule)
        self.generator.s_out.connect(self.network.inp)
        self.output = RunningCount(shape=self.network.out.shape)
        self.network.out.connect(self.output.a_in)
        self.state = state_vars(self.network)
        self.run_cfg = Loihi2SimCfg(select_tag="fixed_pt")
        self.read = self.origin = np.zeros(int(np.prod(self.network.out.shape)), dtype=np.int64)
        biased = any(layer.bias is not None for layer in description.layers if layer.is_synaptic)
        self.quiet = 0 if biased else timing.hops
        """Steps after a fresh start before the output can spike: spikes need ``hops``
        synapses to reach it, and without biases nothing fires on its own."""

    def advance(self, steps: int) -> np.ndarray:
        from lava.magma.core.run_conditions import RunSteps

        self.generator.run(condition=RunSteps(num_steps=steps), run_cfg=self.run_cfg)
        self.read = self.output.count.get().reshape(-1).astype(np.int64)
        return self.read - self.origin

    def start(self, sample: int, time_step: int) -> None:
        for var in self.state:
            var.set(np.zeros(var.shape))
        self.generator.sample.set(np.array([sample]))
        self.generator.origin.set(np.array([time_step]))
        self.origin = self.read


def state_vars(network: AbstractProcess) -> list[Var]:
    """The Vars of a netx network's processes that carry activity from one time step to the
    next; refuses a process whose state is not known to be exactly these."""
    from lava.proc.conv.process import Conv
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.lif.process import LIF
    from lava.proc.sparse.process import DelaySparse, Sparse

    carried = {LIF: ("u", "v"), Dense: ("a_buff",), DelayDense: ("a_buff",), Sparse: ("a_buff",),
               DelaySparse: ("a_buff",), Conv: ("a_buf",)}
    found = []
    pending = list(network.layers)  # netx keeps its layers in a list, not as sub-processes
    while pending:
        process = pending.pop()
        if not process.procs.is_empty():
            pending.extend(process.procs)
        elif type(process) in carried:
            found.extend(getattr(process, name) for name in carried[type(process)])
        else:
            raise NetworkFileError(f"early exit cannot reset a {type(process).__name__} "
                                   f"process (known: {', '.join(c.__name__ for c in carried)})")
    return found


def exit_sweep_lava(network: NetxNetwork | str | Path, images: np.ndarray, labels: np.ndarray,
                    schedule: FrameSchedule, thresholds: list[float],
                    timeout_s: Optional[float] = None) -> list[dict[str, float]]:
    """Accuracy, mean exit step, Lava steps and wall time for each threshold (one run each)."""
    network = network if isinstance(network, NetxNetwork) else read_netx(network)
    rows = []
    for threshold in thresholds:
        run = simulate_early_exit(network, images, schedule, threshold, timeout_s)
        rows.append({"threshold": float(threshold), "accuracy": run.accuracy(labels),
                     "mean_exit_step": run.mean_exit_step, "steps_run": run.steps_run,
                     "wall_s": run.wall_s})
    return rows
