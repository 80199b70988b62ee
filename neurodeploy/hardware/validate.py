"""Validate a netx network against a hardware profile: every check, one report.

:func:`validate` runs the four groups of checks (timing, precision, resources, support)
on objects already loaded; :func:`validate_file` loads a ``.net``, its manifest (the
``manifest.json`` beside it unless told otherwise) and a profile, and raises a
:class:`NeurodeployError` (exit code 2) for input it cannot use, including a manifest that
disagrees with the network. Broken limits are findings, never exceptions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from neurodeploy.core.atomic import read_json
from neurodeploy.core.errors import NeurodeployError, NetworkFileError
from neurodeploy.hardware.energy import Estimate, check_activity, estimate
from neurodeploy.hardware.findings import SCHEDULE, SEVERITIES, Finding, note
from neurodeploy.hardware.precision import check_precision
from neurodeploy.hardware.profile import Profile, load_profile
from neurodeploy.hardware.resources import CoreMap, check_resources, map_cores
from neurodeploy.hardware.support import check_support
from neurodeploy.hardware.timing import check_timing
from neurodeploy.core.manifest import Manifest, manifest_path_for
from neurodeploy.core.netxfile import NetxNetwork, read_netx

EXIT_DEPLOYABLE, EXIT_ERRORS = 0, 1


@dataclass(frozen=True)
class ValidationReport:
    network: str
    profile: str
    profile_title: str
    manifest: Optional[str]
    findings: tuple[Finding, ...]
    mapping: CoreMap
    estimate: Estimate

    def count(self, severity: str) -> int:
        return sum(finding.severity == severity for finding in self.findings)

    @property
    def verdict(self) -> str:
        return "not deployable" if self.count("error") else "deployable"

    @property
    def exit_code(self) -> int:
        return EXIT_ERRORS if self.count("error") else EXIT_DEPLOYABLE

    def by_check(self, check: str) -> list[Finding]:
        return [finding for finding in self.findings if finding.check == check]

    @property
    def summary(self) -> dict[str, Any]:
        return {"cores": self.mapping.cores, "chips": self.mapping.chips,
                "system": self.mapping.system, **self.estimate.to_dict()}

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network, "profile": self.profile, "manifest": self.manifest,
                "verdict": self.verdict, "exit_code": self.exit_code,
                "counts": {severity: self.count(severity) for severity in SEVERITIES},
                "summary": self.summary, "mapping": self.mapping.to_dict(),
                "findings": [finding.to_dict() for finding in self.findings]}


def validate(network: NetxNetwork, profile: Profile, manifest: Optional[Manifest] = None,
             activity: Optional[dict[str, Any]] = None) -> ValidationReport:
    """Run every check; ``activity`` (per-sample counts from a simulation) enables the
    energy estimate."""
    schedule = manifest.schedule if manifest else None
    dassdp = _learning(manifest)
    plastic = tuple(dassdp.get("layers", ())) if dassdp else ()
    core_map = map_cores(network, profile, plastic)
    findings = (check_timing(network, profile, schedule, dassdp)
                + check_precision(network, profile)
                + check_resources(core_map, profile)
                + check_support(network, profile, plastic))
    order = {layer.name: position for position, layer in enumerate(network.layers)}
    findings.sort(key=lambda f: (SEVERITIES.index(f.severity), order.get(f.layer, -1), f.check))
    return ValidationReport(
        network=str(network.path), profile=profile.name, profile_title=profile.title,
        manifest=None, findings=tuple(findings), mapping=core_map,
        estimate=estimate(profile, schedule.frame_steps if schedule else None, core_map.chips, activity,
                          core_map))


def validate_file(network: NetxNetwork | str | Path, hw: Profile | str | Path,
                  manifest_path: Optional[str | Path] = None,
                  activity_path: Optional[str | Path] = None) -> ValidationReport:
    """Load everything (a network or profile already loaded is not read again) and
    validate; unusable input raises :class:`NeurodeployError`."""
    network_path = network.path if isinstance(network, NetxNetwork) else Path(network)
    profile = hw if isinstance(hw, Profile) else load_profile(hw)
    manifest, manifest_path, ignored = _manifest_for(network_path, manifest_path)
    activity = _read_activity(Path(activity_path)) if activity_path else None
    network = _matching(network if isinstance(network, NetxNetwork) else read_netx(network_path),
                        manifest, manifest_path)
    report = validate(network, profile, manifest, activity)
    findings = sorted(ignored + report.findings, key=lambda finding: SEVERITIES.index(finding.severity))
    return replace(report, manifest=str(manifest_path) if manifest else None, findings=tuple(findings))


def _manifest_for(network_path: Path, given: Optional[str | Path]
                  ) -> tuple[Optional[Manifest], Optional[Path], tuple[Finding, ...]]:
    """The given manifest, else the one beside the network (:func:`manifest_path_for`) if
    it describes this network file; one that describes another is ignored, and a warning
    finding says so (validation needs no manifest: the frame checks are then skipped)."""
    if given:
        return Manifest.load(given), Path(given), ()
    beside = manifest_path_for(network_path)
    if not beside.is_file():
        return None, None, ()
    manifest = Manifest.load(beside)
    if manifest.describes(network_path):
        return manifest, beside, ()
    return None, None, (note(
        check="manifest.other_network", layer=SCHEDULE, value=manifest.network_file, limit=network_path.name,
        source=str(beside), fix=f"{beside} describes {manifest.network_file}, not {network_path.name}: ignored, "
                                f"so the frame checks are skipped; give the network a folder of its own with "
                                f"its manifest, or pass --manifest FILE"),)


def _matching(network: NetxNetwork, manifest: Optional[Manifest],
              manifest_path: Optional[Path]) -> NetxNetwork:
    """The network with the manifest's input port, checked to agree with it."""
    network_path = network.path
    if manifest is None:
        return network
    try:
        network = network.with_input_shape(tuple(manifest.port_shape))
    except NetworkFileError as error:
        raise NeurodeployError(f"{manifest_path}: port_shape {tuple(manifest.port_shape)} "
                               f"disagrees with {network_path} ({_tail(error)})") from None
    listed = [(layer.name, layer.type, math.prod(layer.shape)) for layer in manifest.layers]
    actual = [(layer.name, layer.type, math.prod(layer.shape)) for layer in network.layers]
    if listed and listed != actual:
        raise NeurodeployError(f"{manifest_path}: layers (name, type, size) {listed} disagree "
                               f"with {network_path}: {actual}")
    dassdp = _learning(manifest) or {}
    unknown = [name for name in dassdp.get("layers", ()) if name not in {n for n, _, _ in actual}]
    if unknown:
        raise NeurodeployError(f"{manifest_path}: dassdp.layers {unknown} are not layers of "
                               f"{network_path}")
    return network


def _learning(manifest: Optional[Manifest]) -> Optional[dict[str, Any]]:
    """The manifest's DA-SSDP settings when plasticity is on, else None."""
    dassdp = manifest.dassdp if manifest else None
    return dassdp if dassdp and dassdp.get("enabled", True) else None


def _read_activity(path: Path) -> dict[str, float]:
    data = read_json(path, "activity file")
    if isinstance(data, dict) and isinstance(data.get("activity"), dict):
        data = data["activity"]
    return check_activity(data, str(path))


def _tail(error: NeurodeployError) -> str:
    """The message without the leading file name the reader puts first."""
    return str(error).split(": ", 1)[-1]
