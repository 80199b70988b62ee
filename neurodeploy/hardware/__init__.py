"""Hardware profiles and deployment validation of netx networks.

``load_profile("loihi2")`` reads ``hw_configs/loihi2.yaml``; ``validate_file(net, hw)``
checks a ``.net`` (and its manifest) against it and returns a :class:`ValidationReport`;
``check_learning_window`` is the DA-SSDP window check the Lava learning process runs.
Names load lazily so that importing the CLI commands stays cheap.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {"Finding": "findings", "Profile": "profile", "list_profiles": "profile",
            "load_profile": "profile", "check_learning_window": "timing",
            "ValidationReport": "validate", "validate_file": "validate"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'neurodeploy.hardware' has no attribute {name!r}")
    return getattr(import_module(f"neurodeploy.hardware.{_EXPORTS[name]}"), name)
