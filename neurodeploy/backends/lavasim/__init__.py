"""The Lava backend: Lava's Loihi2SimCfg fixed_pt simulator, driven by the runner
(:mod:`.runner`: stall watchdog, always stops), early exit inside Lava (:mod:`.early_exit`)
and the Lava processes in :mod:`.procs` (imported only when a run needs them).

Named ``lavasim``, not ``lava``: ``lava`` is the framework's own top-level package.

Where Lava is not installed (the core install, Python 3.11+), ``NEURODEPLOY_LAVA_PYTHON``
may name the python of a Python 3.10 environment with ``neurodeploy[lava]``: runs then go
to a worker process there (:mod:`.worker`) and return the same results.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from neurodeploy.core.inputs import Inputs
    from neurodeploy.core.netxfile import NetxNetwork
    from neurodeploy.core.results import SimulationResult


class LavaSimulator:
    """The registry's face of :func:`.runner.run_on_lava` (Lava loads on the first run)."""

    name = "lava"
    title = "Lava (Loihi2SimCfg, fixed_pt)"
    requires: Optional[str] = "lava"
    worker: Optional[str] = "NEURODEPLOY_LAVA_PYTHON"
    cpu_only = True

    def run(self, network: "NetxNetwork", inputs: "Inputs", *, record: bool = False, reset: bool = True,
            reset_interval: Optional[int] = None, keep_output: bool = False,
            timeout_s: Optional[float] = None, device: str = "cpu") -> "SimulationResult":
        """``timeout_s``: a wall-clock limit on top of the runner's stall watchdog. Runs in a
        worker process where Lava is not installed here and ``NEURODEPLOY_LAVA_PYTHON`` is set."""
        from neurodeploy.backends import worker_python

        python = worker_python(self)
        if python is not None:
            from neurodeploy.backends.lavasim.worker import run_in_worker

            return run_in_worker(python, network, inputs, record=record, reset=reset, reset_interval=reset_interval,
                                 keep_output=keep_output, timeout_s=timeout_s)
        from neurodeploy.backends.lavasim.runner import run_on_lava

        return run_on_lava(network, inputs, timeout_s=timeout_s, record_layers=record, reset=reset,
                        reset_interval=reset_interval, keep_output=keep_output)


BACKEND = LavaSimulator()
