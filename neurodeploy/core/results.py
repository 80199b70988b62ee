"""What a simulation returns, whichever backend ran it (numpy only: no torch, no Lava),
and the face every result of the API shares (:class:`ResultShape`).

Output counts are per sample over the output block's decode window (see
:mod:`neurodeploy.core.blocks`); whether they are class scores is the caller's business:
:meth:`SimulationResult.accuracy` needs labels, and a network that is not a classifier
is reported by its counts and rates alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

import numpy as np

from neurodeploy.core.decision import predict_from_counts

if TYPE_CHECKING:
    from neurodeploy.core.trace import LayerTrace


class ResultShape:
    """What every result (simulation, parity, validation) offers the same way: its data as
    properties, :meth:`to_dict` (plain data, what ``--json`` writes), :meth:`to_json`, a
    one-line ``repr`` (:meth:`headline`), a notebook table (:meth:`_repr_html_`, from
    :meth:`html_rows`) and ``plot(path=None)`` returning a matplotlib figure. A subclass
    gives ``to_dict``, ``headline``, ``html_rows`` and ``plot``; dataclasses among them
    are declared ``repr=False`` so that this ``repr`` stays, and put this class first
    among their bases."""

    def headline(self) -> str:
        """The result in a few words (what ``repr`` shows inside the class name)."""
        raise NotImplementedError

    def html_rows(self) -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
        """Header and rows of the table a notebook shows under the headline."""
        raise NotImplementedError

    def to_json(self, path: Optional[str] = None, **options: Any) -> str:
        """:meth:`to_dict` as JSON text, also written (atomically) to ``path`` when given;
        ``options`` go to ``to_dict``."""
        import json

        data = self.to_dict(**options)
        if path is not None:
            from neurodeploy.core.atomic import write_json

            write_json(path, data)
        return json.dumps(data, indent=2)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.headline()})"

    def _repr_html_(self) -> str:
        from html import escape

        header, rows = self.html_rows()
        head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
        body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
        return f"<b>{escape(repr(self))}</b><table><tr>{head}</tr>{body}</table>"


@dataclass(frozen=True, repr=False)
class SimulationResult(ResultShape):
    """Per-sample output counts in the decision window, activity per block, timing.

    ``spikes_per_layer`` is the mean number of spikes per sample of each block over its
    whole window (drain tail included: what the hardware spends); ``neurons_per_layer``
    lets it be read as a rate. ``output_spikes`` ``(N, decode_steps, n)`` holds every
    output spike of the decode window when asked for."""

    backend: str
    output_counts: np.ndarray
    spikes_per_layer: dict[str, float]
    neurons_per_layer: dict[str, int]
    frame_steps: int
    steps: int
    wall_s: float
    recording: Optional[dict[str, "LayerTrace"]] = None
    output_spikes: Optional[np.ndarray] = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return len(self.output_counts)

    @property
    def predictions(self) -> np.ndarray:
        """The class with most output spikes per sample (ties to the lowest index)."""
        return predict_from_counts(self.output_counts)

    def accuracy(self, labels: np.ndarray) -> float:
        labels = np.asarray(labels)
        if len(labels) != self.samples:
            raise ValueError(f"{len(labels)} labels for {self.samples} samples")
        return float(np.mean(self.predictions == labels)) if self.samples else float("nan")

    @property
    def rates_per_layer(self) -> dict[str, float]:
        """Spikes per neuron per step of each block."""
        return {name: spikes / max(self.neurons_per_layer.get(name, 1), 1) / max(self.frame_steps, 1)
                for name, spikes in self.spikes_per_layer.items()}

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.wall_s if self.wall_s else float("nan")

    @classmethod
    def concatenate(cls, parts: Sequence["SimulationResult"], steps: int, wall_s: float) -> "SimulationResult":
        """One result from runs of consecutive sample ranges of the same inputs (Ray shards),
        as one run over all of them gives when samples are independent.

        Counts, output spikes and recordings are joined in order. ``spikes_per_layer`` is a
        mean of whole spike counts per sample, so each part's total is recovered exactly
        (``round(mean * samples)``) and divided by all samples, as one run divides.
        ``steps`` and ``wall_s`` are the whole run's: each part drains its own hops."""
        from neurodeploy.core.trace import LayerTrace

        if not parts:
            raise ValueError("nothing to concatenate")
        first, samples = parts[0], sum(part.samples for part in parts)
        totals = {name: sum(round(part.spikes_per_layer[name] * part.samples) for part in parts)
                  for name in first.spikes_per_layer}
        recording = None
        if first.recording is not None:
            recording = {name: LayerTrace(trace.hops, np.concatenate([p.recording[name].spikes for p in parts]),
                                          None if trace.voltage is None else
                                          np.concatenate([p.recording[name].voltage for p in parts]))
                         for name, trace in first.recording.items()}
        output_spikes = None if first.output_spikes is None else np.concatenate([p.output_spikes for p in parts])
        return cls(first.backend, np.concatenate([part.output_counts for part in parts]),
                   {name: total / samples if samples else 0.0 for name, total in totals.items()},
                   dict(first.neurons_per_layer), first.frame_steps, steps, wall_s, recording, output_spikes,
                   dict(first.extra))

    def to_dict(self, labels: Optional[np.ndarray] = None) -> dict[str, Any]:
        """The numbers as plain data (what ``--json`` writes): :meth:`metrics`."""
        return self.metrics(labels)

    def headline(self) -> str:
        return (f"{self.backend}: {self.samples} samples x {self.frame_steps} steps, "
                f"{len(self.spikes_per_layer)} layers, {self.wall_s:.3g} s")

    def html_rows(self) -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
        """Spikes per layer, per sample and per neuron per step."""
        return (("layer", "spikes/sample", "per neuron per step"),
                [(name, f"{spikes:.1f}", f"{self.rates_per_layer[name]:.4f}")
                 for name, spikes in self.spikes_per_layer.items()])

    def plot(self, path: Optional[str] = None, sample: int = 0) -> Any:
        """Sample ``sample``'s output spikes over its decode window (a raster, when the run kept
        them: ``keep_output=True``) beside the mean output count per output; the matplotlib
        figure, also written as PNG to ``path`` when given."""
        from neurodeploy.core.result_figure import result_figure

        return result_figure(self, sample, path)

    def metrics(self, labels: Optional[np.ndarray] = None) -> dict[str, Any]:
        """The numbers ``neurodeploy simulate`` prints and writes; accuracy only with labels."""
        data: dict[str, Any] = {
            "backend": self.backend, "samples": self.samples, "frame_steps": self.frame_steps,
            "steps": self.steps, "wall_s": self.wall_s, "steps_per_s": self.steps_per_second,
            "spikes_per_sample": self.spikes_per_layer, "rates_per_layer": self.rates_per_layer,
            "output_counts_mean": self.output_counts.mean(axis=0).tolist() if self.samples else [],
            **self.extra,
        }
        if labels is not None:
            data["accuracy"] = self.accuracy(labels)
        return data
