"""Per-profile verdicts and estimates for a run: what `run` and `compare` report."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from neurodeploy.hardware.energy import estimate
from neurodeploy.hardware.profile import load_profile
from neurodeploy.hardware.validate import ValidationReport, validate_file
from neurodeploy.netxfile import NetxNetwork


def validate_profiles(network: Union[NetxNetwork, str, Path], profiles: list[str]) -> dict[str, ValidationReport]:
    """Validate ``network`` (with the manifest beside it) against each named profile."""
    return {name: validate_file(network, name) for name in profiles}


def deployment_summary(report: ValidationReport, activity: dict[str, float]) -> dict[str, Any]:
    """Verdict, cores and chips, and time and energy per sample from simulated activity."""
    energy = estimate(load_profile(report.profile), report.estimate.steps_per_sample,
                      report.mapping.chips, activity)
    return {"verdict": report.verdict, "errors": report.count("error"),
            "warnings": report.count("warning"), "cores": report.mapping.cores,
            "chips": report.mapping.chips, **energy.to_dict()}
