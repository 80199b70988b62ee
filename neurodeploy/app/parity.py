"""Parity of torch (SLAYER), the emulator and Lava fixed_pt on the same samples, layer by layer.

When a deployed network disagrees with its training, the question is where the first
spike went astray: which layer, at which frame step, how many spikes, how far the
voltages drifted. This module records every layer on every backend and answers that for
each pair. Steps are *frame steps* (see :mod:`neurodeploy.core.trace`); torch simulates a
frame only up to its last step, so comparisons with torch leave out the drain tail.
Torch voltages are SLAYER's float states in another scale, so voltages are compared
between the emulator and Lava only.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

import numpy as np

from neurodeploy.backends import NAMES, backend
from neurodeploy.core.errors import InputError
from neurodeploy.core.inputs import ImageInput, Inputs
from neurodeploy.training.checkpoint import trained_network
from neurodeploy.core.netxfile import NetxNetwork, read_netx
from neurodeploy.core.results import ResultShape
from neurodeploy.core.trace import LayerTrace

if TYPE_CHECKING:
    from neurodeploy.training.network import SpikingNetwork



@dataclass(frozen=True)
class Divergence:
    """Where two backends' traces of one layer disagree, over the window steps both cover."""

    layer: str
    compared: int                     # spike entries (samples x steps x neurons) compared
    differing: int                    # of those, entries that differ
    samples: int                      # samples with at least one differing spike
    first_step: Optional[int]         # earliest frame step with a differing spike; None: identical
    first_sample: Optional[int]       # lowest sample that differs at ``first_step``
    voltage_differing: Optional[int] = None     # None: voltages not compared
    voltage_max_abs: Optional[int] = None
    voltage_first_step: Optional[int] = None

    @property
    def identical(self) -> bool:
        return self.differing == 0 and not self.voltage_differing


@dataclass(frozen=True)
class Comparison:
    """One pair of backends: every layer's divergence and how often predictions agree."""

    reference: str
    other: str
    layers: tuple[Divergence, ...]
    prediction_agreement: float

    @property
    def first_divergence(self) -> Optional[Divergence]:
        """The layer nearest the input that differs at all."""
        return next((layer for layer in self.layers if not layer.identical), None)


@dataclass(frozen=True, repr=False)
class ParityReport(ResultShape):
    """Every pair of backends compared on the same samples; ``accuracy`` per backend only
    with labels."""

    network: str
    samples: int
    frame_steps: int
    accuracy: dict[str, float]
    comparisons: tuple[Comparison, ...]
    torch_unavailable: Optional[str] = None

    def comparison(self, reference: str, other: str) -> Comparison:
        return next(c for c in self.comparisons if (c.reference, c.other) == (reference, other))

    @property
    def emulator_exact(self) -> bool:
        """The emulator's contract: not one spike or voltage differs from Lava."""
        return all(layer.identical for layer in self.comparison("emulator", "lava").layers)

    @property
    def agreement(self) -> dict[str, float]:
        """Share of samples whose predictions agree, per pair (``"emulator/lava"``)."""
        return {f"{c.reference}/{c.other}": c.prediction_agreement for c in self.comparisons}

    def headline(self) -> str:
        pairs = ", ".join(f"{pair} {100 * share:.1f} %" for pair, share in self.agreement.items())
        exact = "emulator = Lava exactly" if self.emulator_exact else "EMULATOR DIFFERS FROM LAVA"
        return f"{Path(self.network).name}: {self.samples} samples x {self.frame_steps} steps, {exact}; agree {pairs}"

    def html_rows(self) -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
        """Per pair: predictions agreeing, differing spikes and the first layer that differs."""
        rows = []
        for c in self.comparisons:
            first = c.first_divergence
            rows.append((f"{c.reference} / {c.other}", f"{100 * c.prediction_agreement:.1f} %",
                         f"{sum(layer.differing for layer in c.layers)} / {sum(layer.compared for layer in c.layers)}",
                         "-" if first is None else f"{first.layer} (step {first.first_step})"))
        return ("pair", "predictions agree", "differing spikes", "first divergence"), rows

    def plot(self, path: Optional[str] = None) -> Any:
        """Prediction agreement per pair (and accuracy per backend, with labels) beside the
        share of differing spikes per layer; the figure, also written as PNG to ``path``."""
        from neurodeploy.app.report.parity_table import parity_figure

        return parity_figure(self, path)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for entry, comparison in zip(data["comparisons"], self.comparisons):
            first = comparison.first_divergence
            entry["first_divergence"] = None if first is None else first.layer
        data["emulator_exact"] = self.emulator_exact
        return data


def divergences(reference: dict[str, LayerTrace], other: dict[str, LayerTrace]) -> list[Divergence]:
    """Divergence of every layer recorded by both, in ``reference``'s order."""
    return [_divergence(name, trace, other[name]) for name, trace in reference.items() if name in other]


def parity_report(network: NetxNetwork | str | Path, inputs: Inputs, timeout_s: Optional[float] = None,
                  labels: Optional[np.ndarray] = None,
                  checkpoint: "Optional[str | Path | SpikingNetwork]" = None) -> ParityReport:
    """Record ``inputs`` on every backend and compare each pair; torch (SLAYER) joins when
    a training ``checkpoint`` is given (a path, read first as plain data so that a bad one
    stops before any backend runs, or the network :func:`trained_network` returned).
    Nothing is read that was not named: a ``checkpoint.pt`` lying beside the ``.net`` is
    not. Accuracy is reported only with labels (``labels`` or the inputs' own)."""
    description = network if isinstance(network, NetxNetwork) else read_netx(network)
    slayer, reason = None, "no training checkpoint given; torch joins with --checkpoint FILE"
    if checkpoint is not None:
        if not isinstance(inputs, ImageInput):
            raise InputError(f"--checkpoint {checkpoint}: torch runs images through the trained encoder; "
                             f"the inputs are {inputs.kind} (drop --checkpoint, or give images)")
        slayer = trained_network(checkpoint)
        reason = None
    runs = {}
    if slayer is not None:
        runs["torch"] = torch_traces(slayer, inputs)
    for name in NAMES:
        ran = backend(name).run(description, inputs, record=True, timeout_s=timeout_s)
        runs[name] = (ran.recording, ran.predictions)
    comparisons = tuple(
        Comparison(a, b, tuple(divergences(runs[a][0], runs[b][0])),
                   float(np.mean(runs[a][1] == runs[b][1])) if inputs.samples else float("nan"))
        for a, b in _pairs(tuple(runs)))
    labels = inputs.labels if labels is None else labels
    accuracy = {name: float(np.mean(runs[name][1] == labels)) if inputs.samples else float("nan")
                for name in runs} if labels is not None else {}
    return ParityReport(str(description.path), inputs.samples, inputs.frame_steps, accuracy,
                        comparisons, reason)


def _pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of ``names``, neighbours first: torch/emulator, emulator/lava, then torch/lava."""
    return sorted(((a, b) for i, a in enumerate(names) for b in names[i + 1:]),
                  key=lambda pair: names.index(pair[1]) - names.index(pair[0]))


def torch_traces(network: "SpikingNetwork", inputs: ImageInput) -> tuple[dict[str, LayerTrace], np.ndarray]:
    """Every block's spikes from a trained SLAYER ``network`` (see
    :func:`neurodeploy.training.checkpoint.trained_network`) fed ``inputs`` (the spikes the
    other backends get), cut into the same windows, and its predictions."""
    import torch

    from neurodeploy.core.decision import predict_from_counts
    from neurodeploy.core.encoding import encode

    with torch.no_grad():
        forward = network(encode(inputs.images, inputs.schedule, seed=inputs.seed, first=inputs.first))
    traces, synapses = {}, network.named_synapses()
    for name, hops, spikes in zip(network.layer_names, network.layer_hops, forward.layer_spikes):
        if name not in synapses:  # a flatten builds no netx block
            continue
        steps = spikes.movedim(-1, 1) != 0
        traces[name] = LayerTrace(hops, steps[:, hops:].numpy())
    return traces, predict_from_counts(forward.output.sum(-1))


def _divergence(name: str, a: LayerTrace, b: LayerTrace) -> Divergence:
    steps = min(a.spikes.shape[1], b.spikes.shape[1])
    differs = (a.spikes[:, :steps] != b.spikes[:, :steps]).reshape(len(a.spikes), steps, -1)
    per_step = differs.any(axis=2)
    first_step, first_sample = _first(per_step, a.hops)
    result = Divergence(name, int(differs.size), int(differs.sum()), int(per_step.any(axis=1).sum()),
                        first_step, first_sample)
    if a.voltage is None or b.voltage is None:
        return result
    gap = np.abs(a.voltage[:, :steps] - b.voltage[:, :steps]).reshape(len(a.voltage), steps, -1)
    voltage_step, _ = _first(gap.any(axis=2), a.hops)
    return Divergence(**{**asdict(result), "voltage_differing": int((gap != 0).sum()),
                         "voltage_max_abs": int(gap.max()) if gap.size else 0,
                         "voltage_first_step": voltage_step})


def _first(per_step: np.ndarray, hops: int) -> tuple[Optional[int], Optional[int]]:
    """Earliest window step with a difference (as a frame step) and the first sample there."""
    steps = np.flatnonzero(per_step.any(axis=0))
    if not len(steps):
        return None, None
    return int(steps[0]) + hops, int(np.flatnonzero(per_step[:, steps[0]])[0])


def concatenate_reports(parts: Sequence[ParityReport]) -> ParityReport:
    """One report from reports on consecutive sample ranges of the same inputs (Ray shards),
    equal to the report on all of them when samples are independent: counts add up, the
    first divergence is the earliest step (lowest sample there, numbered across parts), and
    agreement and accuracy, fractions of whole samples, are recounted exactly."""
    if not parts:
        raise ValueError("nothing to concatenate")
    first, samples = parts[0], sum(part.samples for part in parts)
    starts = np.cumsum([0] + [part.samples for part in parts[:-1]]).tolist()

    def fraction(values: Sequence[float]) -> float:
        hits = sum(round(value * part.samples) for value, part in zip(values, parts) if part.samples)
        return hits / samples if samples else float("nan")

    comparisons = []
    for index, comparison in enumerate(first.comparisons):
        pairs = [part.comparisons[index] for part in parts]
        layers = tuple(_concatenate_divergences([pair.layers[at] for pair in pairs], starts)
                       for at in range(len(comparison.layers)))
        comparisons.append(Comparison(comparison.reference, comparison.other, layers,
                                      fraction([pair.prediction_agreement for pair in pairs])))
    accuracy = {name: fraction([part.accuracy[name] for part in parts]) for name in first.accuracy}
    return ParityReport(first.network, samples, first.frame_steps, accuracy, tuple(comparisons),
                        first.torch_unavailable)


def _concatenate_divergences(layers: Sequence[Divergence], starts: Sequence[int]) -> Divergence:
    found = [(layer.first_step, start + layer.first_sample) for layer, start in zip(layers, starts)
             if layer.first_step is not None]
    first_step, first_sample = min(found) if found else (None, None)
    voltages = layers[0].voltage_differing is not None
    voltage_steps = [layer.voltage_first_step for layer in layers if layer.voltage_first_step is not None]
    return Divergence(layers[0].layer, sum(layer.compared for layer in layers),
                      sum(layer.differing for layer in layers), sum(layer.samples for layer in layers),
                      first_step, first_sample,
                      sum(layer.voltage_differing for layer in layers) if voltages else None,
                      max(layer.voltage_max_abs for layer in layers) if voltages else None,
                      min(voltage_steps) if voltage_steps else None)
