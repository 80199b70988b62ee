"""A finding: one broken (or noteworthy) limit, with everything a user needs to act.

Every check returns a list of these; the validator only collects them. A limit the
profile marks ``uncertain`` can only produce a warning: nobody should be blocked by a
number that is not known to be right.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Union

import numpy as np

from neurodeploy.hardware.profile import Fact, Span

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
NETWORK = "network"   # the layer column of a finding that concerns no single layer
SCHEDULE = "schedule"  # ... or the frame schedule


@dataclass(frozen=True)
class Finding:
    severity: Severity
    layer: str
    check: str
    value: Any
    limit: Any
    source: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def breach(fact: Union[Fact, Span], *, check: str, layer: str, value: Any, limit: Any,
           fix: str, severity: Severity = "error") -> Finding:
    """A finding against a profile limit: an error becomes a warning when the limit is
    uncertain, and the fix then says so."""
    if fact.uncertain and severity == "error":
        severity = "warning"
        fix = f"{fix} (uncertain limit: confirm with the vendor's compiler)"
    return Finding(severity, layer, check, _plain(value), _plain(limit), fact.citation, fix)


def note(*, check: str, layer: str, value: Any, limit: Any, source: str, fix: str,
         severity: Severity = "warning") -> Finding:
    """A finding whose limit comes from the toolchain's code rather than the profile."""
    return Finding(severity, layer, check, _plain(value), _plain(limit), source, fix)


def _plain(value: Any) -> Any:
    """Numpy values to Python so findings serialise to JSON as they are."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value
