"""The validation report as the API hands it out: :class:`ValidationReport` with the face
every result shares (:class:`neurodeploy.core.results.ResultShape`), its ``plot`` the core map."""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from neurodeploy.hardware.validate import ValidationReport
from neurodeploy.core.results import ResultShape


@dataclass(frozen=True, repr=False)
class ValidationResult(ResultShape, ValidationReport):
    """A :class:`ValidationReport` (same fields, same ``to_dict``) that shows itself."""

    @classmethod
    def of(cls, report: ValidationReport) -> "ValidationResult":
        return cls(**{field.name: getattr(report, field.name) for field in fields(report)})

    @property
    def failing_layers(self) -> tuple[str, ...]:
        """Layers with at least one error finding, in the report's order."""
        return tuple(dict.fromkeys(f.layer for f in self.findings if f.severity == "error"))

    def headline(self) -> str:
        return (f"{Path(self.network).name} on {self.profile}: {self.verdict}, {self.count('error')} errors, "
                f"{self.count('warning')} warnings, {self.mapping.cores} cores, {self.mapping.chips} chip(s)")

    def html_rows(self) -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
        """Every finding, errors first."""
        return (("severity", "layer", "check", "value", "limit", "fix"),
                [(f.severity, f.layer, f.check, f.value, f.limit, f.fix) for f in self.findings])

    def plot(self, path: Optional[str] = None) -> Any:
        """The core map (cores per layer, utilisation of each per-core limit), layers with an
        error marked; the figure, also written as PNG to ``path``."""
        from neurodeploy.core.figures import save_figure
        from neurodeploy.app.report.mapping_plot import core_map_figure

        figure = core_map_figure(self.mapping, f"{Path(self.network).name} on {self.profile_title}: {self.verdict}",
                                 self.failing_layers)
        if path is not None:
            save_figure(figure, path, close=False)
        else:
            figure.tight_layout()
        return figure
