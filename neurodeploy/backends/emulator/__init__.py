"""The emulator backend: a batched run of a netx file that is bit-exact with Lava's
fixed_pt simulator (:mod:`.engine`), over integer layers (:mod:`.layers`), event-driven
steps (:mod:`.events`), Loihi's fixed-point arithmetic (:mod:`.fixed_point`) and numba
kernels (:mod:`.kernels`). torch on a GPU, numba on the CPU; no Lava.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from neurodeploy.core.inputs import Inputs
    from neurodeploy.core.netxfile import NetxNetwork
    from neurodeploy.core.results import SimulationResult


class Emulator:
    """The registry's face of :func:`.engine.emulate` (torch and numba load on the first run)."""

    name = "emulator"
    title = "the emulator (bit-exact with Lava fixed_pt)"
    requires: Optional[str] = None
    worker: Optional[str] = None
    cpu_only = False

    def run(self, network: "NetxNetwork", inputs: "Inputs", *, record: bool = False, reset: bool = True,
            reset_interval: Optional[int] = None, keep_output: bool = False,
            timeout_s: Optional[float] = None, device: str = "cpu") -> "SimulationResult":
        """``timeout_s`` does not apply: the emulator runs in this process, with no child to hang."""
        from neurodeploy.backends.emulator.engine import emulate

        return emulate(network, inputs, record=record, reset=reset, reset_interval=reset_interval,
                       keep_output=keep_output, device=device)


BACKEND = Emulator()
