"""What each NIR exporter means by the numbers it writes, as data.

NIR's neurons are ODEs, but each framework steps its own discrete neuron and writes the
parameters that its exporter's author chose. Read with one rule, graphs from the others
import wrong (a silent output layer, or 12 % more spikes). Each :class:`Convention`
states, for one exporter, what the importer needs to reproduce the source step for step:

- ``decay``: ``"euler"`` (``1 - dt/tau`` kept per step: snnTorch, SpikingJelly, Norse) or
  ``"exact"`` (``exp(-dt/tau)``: sinabs, Rockpool); both are exact integer decays on Loihi.
- ``current_gain``: how a weighted spike enters a CubaLIF current: ``"ode"`` scales it by
  ``dt/tau_syn * w_in`` (NIR's ODE under Euler; snnTorch and SpikingJelly write
  ``w_in = tau_syn/dt`` so the whole weight enters), ``"whole"`` adds ``w_in`` times it
  (Norse: ``i += input``), ``"decayed"`` adds it and decays it once before the voltage
  sees it (Rockpool: ``isyn += input; isyn *= beta; v += isyn``).
- ``voltage_gain``: ``"ode"`` scales the current by ``(1 - keep) * r`` (NIR's ODE), ``"whole"``
  adds it as it is (Rockpool, whose ``r`` encodes its ``dt`` for its own importer).
- ``if_gain``: an IF neuron's input gain: ``"ode"`` ``dt * r`` or ``"whole"`` ``r`` (Norse, sinabs).
- ``tau_unit``: what a written time constant is: ``"seconds"``, ``"steps"`` (sinabs: one
  unit is one step, so ``dt`` is 1), or ``"seconds*dt"`` (Norse 1.1 writes
  ``dt / tau_inv = tau * dt``, so the step must be divided back out).
- ``dt``: the step the exporter assumes when the graph does not record one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

#: The framework assumed when neither the graph nor ``--from`` says (the one the bridge
#: was first written for; its rule is also NIR's ODE under Euler).
DEFAULT = "snntorch"


@dataclass(frozen=True)
class Convention:
    name: str
    dt: float
    decay: str = "euler"
    current_gain: str = "ode"
    voltage_gain: str = "ode"
    if_gain: str = "ode"
    tau_unit: str = "seconds"
    why_dt: str = ""

    def seconds(self, tau: Any, dt: float) -> Any:
        """A written time constant in seconds at step ``dt``."""
        if self.tau_unit == "steps":
            return tau * dt
        if self.tau_unit == "seconds*dt":
            return tau / dt
        return tau


CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention("snntorch", 1e-4, why_dt="snnTorch's export_to_nir writes tau = dt/(1 - beta) with dt = 1e-4"),
    Convention("spikingjelly", 1e-4, why_dt="SpikingJelly's export_to_nir defaults to dt = 1e-4"),
    Convention("norse", 1e-3, current_gain="whole", if_gain="whole", tau_unit="seconds*dt",
               why_dt="Norse's to_nir defaults to dt = 1e-3 and writes tau * dt"),
    Convention("sinabs", 1.0, decay="exact", if_gain="whole", tau_unit="steps",
               why_dt="sinabs writes time constants in steps"),
    Convention("rockpool", 1e-3, decay="exact", current_gain="decayed", voltage_gain="whole",
               why_dt="Rockpool's LIFTorch defaults to dt = 1e-3"),
    Convention("neurodeploy", 1e-3, why_dt="neurodeploy's export-nir records dt in the metadata"),
)}
#: What ``--from`` offers: the frameworks that write NIR (neurodeploy's own graphs say so).
FRAMEWORKS = ("snntorch", "norse", "sinabs", "spikingjelly", "rockpool")

#: Words in a graph's metadata (or a node's) that name the exporter.
_MARKS = {"neurodeploy": "neurodeploy", **{name: name for name in FRAMEWORKS}}


def detect(graph: Any) -> Optional[str]:
    """The framework the graph names in its metadata (``source``/``framework``/``model_name``
    or any text value naming one), or None."""
    metadata = getattr(graph, "metadata", None) or {}
    for key in ("framework", "source", "model_name", "exporter"):
        value = metadata.get(key)
        if isinstance(value, bytes):
            value = value.decode("utf8", "replace")
        if isinstance(value, str):
            for mark, name in _MARKS.items():
                if mark in value.lower():
                    return name
    return None


def resolve(graph: Any, given: Optional[str], source: str) -> tuple[Convention, str]:
    """The convention to import ``graph`` with and a line saying where it came from. A
    ``given`` name that contradicts the graph's own metadata is an error."""
    from neurodeploy.interop.layers import NirError

    if given is not None and given not in CONVENTIONS:
        raise NirError(f"--from {given!r}: expected one of {sorted(CONVENTIONS)}")
    found = detect(graph)
    if given is not None and found is not None and found != given:
        raise NirError(f"{source}: --from {given} but the graph's metadata names {found}")
    if given is not None:
        return CONVENTIONS[given], f"conventions of {given} (--from)"
    if found is not None:
        return CONVENTIONS[found], f"conventions of {found} (named in the graph's metadata)"
    return CONVENTIONS[DEFAULT], (f"conventions of {DEFAULT} (the default; the graph does not say "
                                  f"who wrote it: pass --from if another framework did)")
