"""Per-profile verdicts and estimates for a run: what `run` and `compare` report."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, Union

from neurodeploy.hardware.energy import estimate
from neurodeploy.hardware.profile import Profile, load_profile
from neurodeploy.hardware.validate import ValidationReport, validate_file
from neurodeploy.core.netxfile import NetxNetwork


@dataclass(frozen=True)
class DeploymentReport(ValidationReport):
    """A validation report that keeps the profile it was validated against, loaded from
    what the user named (a profile name or the path of a YAML file): ``profile`` is only
    the name inside the file, which need not find the file again."""

    loaded_profile: Optional[Profile] = field(default=None, repr=False, compare=False)


def validate_profiles(network: Union[NetxNetwork, str, Path],
                      profiles: list[Union[str, Path]]) -> dict[Union[str, Path], DeploymentReport]:
    """Validate ``network`` (with the manifest beside it) against each profile, keyed by
    the name or path as given; each report carries its profile for the estimates."""
    reports = {}
    for name in profiles:
        profile = load_profile(name)
        report = validate_file(network, profile)
        reports[name] = DeploymentReport(**{item.name: getattr(report, item.name)
                                            for item in fields(ValidationReport)},
                                         loaded_profile=profile)
    return reports


def deployment_summary(report: ValidationReport, activity: dict[str, float],
                       profile: Union[Profile, str, Path, None] = None) -> dict[str, Any]:
    """Verdict, cores and chips, and time and energy per sample from simulated activity.

    The profile is ``profile`` (a loaded Profile, or a name or path), else the one a
    :class:`DeploymentReport` carries, else the profile named ``report.profile``."""
    if profile is None:
        profile = getattr(report, "loaded_profile", None) or report.profile
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    energy = estimate(profile, report.estimate.steps_per_sample, report.mapping.chips, activity, report.mapping)
    return {"verdict": report.verdict, "errors": report.count("error"),
            "warnings": report.count("warning"), "cores": report.mapping.cores,
            "chips": report.mapping.chips, **energy.to_dict()}
