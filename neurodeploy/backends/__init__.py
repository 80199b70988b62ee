"""Backends that run a netx network, behind one protocol and one registry.

A backend is a package here whose ``BACKEND`` object satisfies :class:`Backend`; adding one
is that package plus a line in :data:`REGISTRY`. The API (``nd.simulate``), the CLI's
``--backend`` choices, ``parity`` and the reports all read the registry, so none of them
names a backend. A backend's package imports nothing heavy at its top: what it needs
(torch, Lava) loads inside ``run``, and ``requires`` names the top-level module an extra
installs, so a missing one is found with a spec look-up before anything is read. Where it
is missing, ``worker`` may name an environment variable holding the python of another
environment that has it (``NEURODEPLOY_LAVA_PYTHON``): the backend then runs in a worker
process there, and counts as installed.
"""
from __future__ import annotations

from importlib import import_module
import importlib.util
import os
import shutil
from typing import TYPE_CHECKING, Optional, Protocol

from neurodeploy.core.errors import NeurodeployError, shown
from neurodeploy.core.extras import OPTIONAL_MODULES, require

if TYPE_CHECKING:
    from neurodeploy.core.inputs import Inputs
    from neurodeploy.core.netxfile import NetxNetwork
    from neurodeploy.core.results import SimulationResult

#: name -> the package holding its ``BACKEND``; the order is the order reports list them in.
REGISTRY: dict[str, str] = {
    "emulator": "neurodeploy.backends.emulator",
    "lava": "neurodeploy.backends.lavasim",
}
NAMES: tuple[str, ...] = tuple(REGISTRY)
#: What ``nd.simulate`` and ``neurodeploy simulate`` run on unless told: Lava, the reference.
DEFAULT_BACKEND = "lava"


class Backend(Protocol):
    """What every backend gives: a name, how reports call it, what it needs, and a run."""

    name: str
    title: str  #: how a report names it, e.g. "Lava (Loihi2SimCfg, fixed_pt)"
    requires: Optional[str]  #: top-level module an extra installs (``lava``), or None
    #: environment variable naming the python of an environment that has ``requires``,
    #: used where this one lacks it (a worker process runs the backend there), or None
    worker: Optional[str]
    cpu_only: bool  #: whether ``device`` must be ``cpu``

    def run(self, network: "NetxNetwork", inputs: "Inputs", *, record: bool = False, reset: bool = True,
            reset_interval: Optional[int] = None, keep_output: bool = False,
            timeout_s: Optional[float] = None, device: str = "cpu") -> "SimulationResult":
        """Every sample of ``inputs`` through ``network``; ``record`` keeps every block's spikes
        and voltages per window (what parity compares)."""
        ...


def backend(name: str) -> Backend:
    """The registered backend called ``name``, or a one-line error listing the names."""
    if name not in REGISTRY:
        raise NeurodeployError(f"backend {name!r}: expected one of {', '.join(NAMES)}")
    return import_module(REGISTRY[name]).BACKEND


def installed_names() -> tuple[str, ...]:
    """The registered backends whose needs are installed here or, through their ``worker``
    variable, in another interpreter, in registry order (spec look-ups: nothing is imported)."""
    return tuple(name for name in NAMES if _here(backend(name)) or _worker_variable(backend(name)))


def require_installed(name: str, what: str, hint: str = "") -> None:
    """Stop ``what`` before anything is read where backend ``name`` cannot run: one line naming
    the extra, and the variable that names another interpreter; where that variable is set,
    it must name an executable file (:func:`worker_python`)."""
    chosen = backend(name)
    if not _here(chosen) and worker_python(chosen) is None:
        require(chosen.requires, what, hint, variable=chosen.worker)


def worker_python(chosen: Backend) -> Optional[str]:
    """The python that runs ``chosen`` in a worker process: the executable its ``worker``
    variable names (a path, or a name on ``PATH``), where what it requires is missing here;
    ``None`` where it runs in this process. A value naming no executable file is one line."""
    value = None if _here(chosen) else _worker_variable(chosen)
    if value is None:
        return None
    found = shutil.which(value)
    if found is None:
        extra = OPTIONAL_MODULES[chosen.requires]
        raise NeurodeployError(f"{chosen.worker}={shown(value)}: no executable file of that name; expected the "
                               f"python of an environment with neurodeploy[{extra}] installed")
    return found


def _worker_variable(chosen: Backend) -> Optional[str]:
    """The value of ``chosen``'s worker variable, where it has one and it is set (non-empty)."""
    return (os.environ.get(chosen.worker) or None) if chosen.worker else None


def _here(chosen: Backend) -> bool:
    """Whether what ``chosen`` requires is installed in this interpreter (a spec look-up)."""
    return chosen.requires is None or importlib.util.find_spec(chosen.requires) is not None
