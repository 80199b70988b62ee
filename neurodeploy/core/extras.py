"""Which pip extra installs which optional package, and the one line that says so.

The core install leaves out Lava and lava-dl (Python 3.10 only), NIR's packages and Ray;
whatever needs one of them looks it up here before anything is read or imported.
"""
from __future__ import annotations

import importlib.util
from typing import Optional

from neurodeploy.core.errors import NeurodeployError

#: top-level module -> the extra of setup.cfg that installs it
OPTIONAL_MODULES = {"nir": "nir", "nirtorch": "nir", "snntorch": "nir", "ray": "scale", "lava": "lava"}
EXTRA_NOTES = {"lava": " (Python 3.10: lava-nc 0.10.0 and lava-dl 0.6.0 install on no other)"}


def missing_extra(module: str, what: str = "this", variable: Optional[str] = None) -> str:
    """The one line for an optional package that is not installed, naming the extra to install
    and, where ``what`` can run in another interpreter that has it, the ``variable`` naming it."""
    extra = OPTIONAL_MODULES[module]
    elsewhere = f", or set {variable} to the python of an environment that has it" if variable else ""
    return (f"{what} needs the optional package '{module}': pip install 'neurodeploy[{extra}]'"
            f"{EXTRA_NOTES.get(extra, '')}{elsewhere}")


def installed_version(distribution: str, missing: str = "not installed") -> str:
    """The installed version of ``distribution`` (its package metadata), or ``missing``."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return missing


def neurodeploy_version() -> str:
    """This install's version; ``0+unknown`` for a source tree that was never installed."""
    return installed_version("neurodeploy", "0+unknown")


def require(module: str, what: str, hint: str = "", variable: Optional[str] = None) -> None:
    """Stop ``what`` where ``module`` is not installed: a spec look-up, nothing imported."""
    if importlib.util.find_spec(module) is None:
        raise NeurodeployError(missing_extra(module, what, variable) + (f"; {hint}" if hint else ""))
