"""DA-SSDP's dopamine gate: how a layer's batch synchrony scales its update.

The gate is fitted once, at the end of warm-up, from how synchrony went with the loss
(:func:`fit_gate`). It lives apart from :mod:`neurodeploy.training.dassdp` because the
compiled kernels (:mod:`neurodeploy.training.dassdp_kernels`) run the same
:func:`gate_value` through numba while the rule imports the kernels: both import it from
here. It needs neither torch nor numba.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

SIGN_GATE_DEADBAND = 0.1
"""``|k|`` below which the sign gate is 1, i.e. "correlation near zero": 0.1 is the
conventional threshold of a small correlation (Cohen 1988); below it the rule acts as the
plain latency-weighted Hebbian regulariser the paper describes."""


def gate_value(synchrony: Any, dopamine: float, sync_slope: float, sync_mean: float,
               clamp: bool) -> Any:
    """:class:`Gate`'s formula on an array of synchronies (tensor or numpy; the compiled
    update runs this same function through numba)."""
    gate = dopamine * (1 + sync_slope * (synchrony - sync_mean))
    return gate.clip(0, 2) if clamp else gate


@dataclass(frozen=True)
class Gate:
    """``gate(S) = clamp(dopamine * (1 + sync_slope * (S - sync_mean)), 0, 2)``.

    One form serves the three modes: ``continuous`` is ``(1, k / sd_S, mu_S)``, ``sign`` is
    ``(sign k, 0, 0)``, ``one`` is ``(1, 0, 0)``. The clamp is the reference's; with
    ``clamp=False`` a negative gate (the sign gate's -1) reverses the rule instead of
    switching it off. On Lava ``dopamine`` is the third factor that a reward signal may
    set between windows.
    """

    dopamine: float = 1.0
    sync_slope: float = 0.0
    sync_mean: float = 0.0
    clamp: bool = True

    def __call__(self, synchrony: Any) -> Any:
        return gate_value(synchrony, self.dopamine, self.sync_slope, self.sync_mean, self.clamp)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_gate(k: float, sync_mean: float, sync_std: float, mode: str, clamp: bool = True) -> Gate:
    """The gate of ``mode`` from the warm-up's ``k = -corr(S, L)``, ``mu_S`` and ``sd_S``."""
    if mode == "continuous" and sync_std > 0:
        return Gate(1.0, k / sync_std, sync_mean, clamp)
    if mode == "sign" and abs(k) >= SIGN_GATE_DEADBAND:
        return Gate(math.copysign(1.0, k), clamp=clamp)
    return Gate(clamp=clamp)
