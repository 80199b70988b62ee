"""Early exit on Lava's simulator: a sample stops at the decision rule's step, for real.

The runner (:mod:`neurodeploy.backends.lavasim.runner`) runs whole frames back to back with a reset
built into every LIF. Here the network is built without that reset, and an
:class:`~neurodeploy.backends.lavasim.procs.exit_control.ExitControl` process inside the run counts the
output layer's spikes, applies :func:`neurodeploy.core.decision.should_exit` at every step and,
at exit or at the frame's end, zeroes every Var that carries activity into the next sample
(each LIF's ``u`` and ``v``, each synapse's activation buffer ``a_buff``/``a_buf``: the one
step of latency, or the delay line) and points the generator at the next sample, between
two time steps. The whole set is one Lava run that pauses at the last sample's exit: the
skipped steps are never simulated (``steps_run``, the last time step the run reached by
Lava's own clock, equals ``exit_steps.sum()``) and no sample costs a host round trip.

Timing: with the state zeroed before a sample's first step, the output at frame step
``s`` (torch's time axis, the hops of latency included) is produced by the sample's
``(s + 1)``-th Lava step, so an exit step counts frame steps and Lava steps alike. For
networks without bias or axonal delays (what training exports), a threshold never reached
gives exactly the runner's output counts; with them the two differ by design: the
runner's layer ``h`` integrates the previous sample's tail until its reset at frame step
``h`` and lets delayed spikes cross the frame boundary, here every sample starts clean.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from neurodeploy.core.blocks import NetworkTiming
from neurodeploy.core.decision import predict_from_counts
from neurodeploy.core.encoding import FrameSchedule
from neurodeploy.core.errors import NetworkFileError
from neurodeploy.core.netxfile import NetxNetwork, read_netx
from neurodeploy.core.progress import progress
from neurodeploy.backends.lavasim.runner import (abort_runtime, arrange_for_port, build_network, check_lava_internals,
                                    run_with_watchdog, stop_runtime)

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


def simulate_early_exit(network: NetxNetwork | str | Path, images: np.ndarray, schedule: FrameSchedule,
                        threshold: float, timeout_s: Optional[float] = None) -> EarlyExitRun:
    """Run ``images`` (``uint8 (N, C, H, W)``) on Lava ``fixed_pt``, each until it exits.

    One Lava run serves every sample; the runtime is stopped after it (aborted on a fault
    or Ctrl-C) and a dead or stopped child, a hang (no progress for the runner's
    :data:`~neurodeploy.backends.lavasim.runner.STALL_S`) or a run past the caller's ``timeout_s``
    becomes :class:`~neurodeploy.core.errors.SimulationError`."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from neurodeploy.backends.lavasim import step_board
    from neurodeploy.backends.lavasim.procs import exit_control
    from neurodeploy.backends.lavasim.procs.exit_control import ExitControl, control_model
    from neurodeploy.backends.lavasim.procs.generator import HybridSpikeGenerator

    check_lava_internals()
    exit_control.check_lava_internals()

    description = network if isinstance(network, NetxNetwork) else read_netx(network)
    samples, frame_steps = len(images), schedule.frame_steps
    timing = NetworkTiming.of(description, frame_steps, reset=False)
    if timing.blocks and timing.blocks[0].is_input:
        raise NetworkFileError(f"{description.path}: early exit feeds images; layer "
                               f"{timing.blocks[0].name} is netx's Input block, driven by bias")
    if not samples:  # nothing to run (Lava cannot hold the control's empty Vars)
        none = np.zeros(0, dtype=np.int64)
        return EarlyExitRun(none, none, none.reshape(0, 0), float(threshold), 0, 0.0)
    with step_board.claim() as slot:  # the control reports each step there: the watchdog's progress
        built = build_network(description, timing, images.shape[1:])
        generator = HybridSpikeGenerator(images=arrange_for_port(images, built.inp.shape), schedule=schedule)
        generator.s_out.connect(built.inp)
        state = state_vars(built)
        control = ExitControl(shape=built.out.shape, samples=samples, frame_steps=frame_steps, threshold=threshold,
                              state_shapes=[var.shape for var in state], progress=slot)
        built.out.connect(control.a_in)
        control.next_sample.connect_var(generator.sample)
        control.next_origin.connect_var(generator.origin)
        for index, var in enumerate(state):
            getattr(control, f"state_{index}").connect_var(var)
        run_cfg = Loihi2SimCfg(select_tag="fixed_pt",
                               exception_proc_model_map={ExitControl: control_model(len(state))})
        outcome: list[tuple[np.ndarray, np.ndarray, int]] = []

        def run() -> None:
            # one run for the whole set, paused by the control at the last sample's exit, at the latest after
            # every frame; one step more than that, as a pause asked for at a run's last step fails in Lava 0.10
            generator.run(condition=RunSteps(num_steps=samples * frame_steps + 1), run_cfg=run_cfg)

        def read() -> None:
            outcome.append((control.exit_steps.get().astype(np.int64), control.counts.get().astype(np.int64),
                            step_board.reached(slot)))

        began = time.perf_counter()
        try:
            # progress in steps: the control reports the step it reached, not the samples done, and
            # samples that exit early leave the run short of the frames' total
            with progress(f"Lava early exit (margin {threshold:g}; steps and time left at most)",
                          samples * frame_steps, unit="steps") as advance:
                run_with_watchdog(run, timeout_s, samples * frame_steps, reached=_advancing(slot, advance),
                                  read=read)
            wall_s = time.perf_counter() - began
        except BaseException:
            abort_runtime(generator)
            raise
        stop_runtime(generator)
    exit_steps, counts, steps_run = outcome[0]
    counts = counts.reshape(samples, -1)
    return EarlyExitRun(exit_steps, predict_from_counts(counts), counts, float(threshold), steps_run, wall_s)


def _advancing(slot: int, advance: Callable[[int], None]) -> Callable[[], int]:
    """The watchdog's reader of the step ``slot`` reached, moving ``advance`` on by the steps
    done since its last call."""
    from neurodeploy.backends.lavasim import step_board

    shown = 0

    def reached() -> int:
        nonlocal shown
        step = step_board.reached(slot)
        if step > shown:
            advance(step - shown)
            shown = step
        return step

    return reached


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
