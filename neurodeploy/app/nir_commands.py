"""The ``import-nir``, ``export-nir`` and ``parity-nir`` commands (click only at import time,
so ``neurodeploy --help`` stays fast)."""
from __future__ import annotations

from typing import Optional

import click

from neurodeploy.app.report.output import check_json_target, emit, json_option, print_fields

from neurodeploy.interop.conventions import DEFAULT, FRAMEWORKS


def _shape(text: Optional[str]) -> Optional[tuple[int, int, int]]:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise click.BadParameter(f"{text!r}: expected C,H,W, e.g. 1,8,8", param_hint="--image-shape")
    return values  # type: ignore[return-value]


@click.command("import-nir")
@click.argument("graph", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="The .net to write.")
@click.option("--dt", type=float, help="Seconds per step (required unless the graph's metadata has dt).")
@click.option("--from", "framework", type=click.Choice(FRAMEWORKS),
              help=f"Framework that wrote the graph, for its neuron conventions (default: the one the "
                   f"graph's metadata names, else {DEFAULT}); see docs/nir.md.")
@click.option("--image-shape", help="C,H,W of the images a data set feeds (default: the graph's input).")
@click.option("--dataset", help="Data set the manifest names for simulate (e.g. digits).")
@click.option("--encoding", default="rate", show_default=True, help="Encoding of the manifest's schedule.")
@click.option("--steps", "temporal_steps", type=click.IntRange(min=1), default=16, show_default=True,
              help="Temporal steps per frame.")
@click.option("--gap", type=click.IntRange(min=0), help="Silent steps per frame (default: one per hop).")
@click.option("--check-samples", type=click.IntRange(min=0, max=10000), default=64, show_default=True,
              help="With --dataset: test samples run on the emulator to find layers that never fire.")
def import_nir(graph: str, output: str, dt: Optional[float], framework: Optional[str],
               image_shape: Optional[str], dataset: Optional[str], encoding: str, temporal_steps: int,
               gap: Optional[int], check_samples: int) -> None:
    """Map a NIR GRAPH to a netx .net with its manifest, quantised as Loihi runs it."""
    from pathlib import Path

    from neurodeploy.core.atomic import check_output
    from neurodeploy.core.config import DATASETS, DataConfig
    from neurodeploy.interop.files import import_nir_file
    from neurodeploy.interop.layers import NirError
    from neurodeploy.core.manifest import MANIFEST_NAME

    check_output(output, "network file")
    check_output(Path(output).with_name(MANIFEST_NAME), "manifest")
    if dataset is not None and dataset not in DATASETS:
        raise NirError(f"--dataset {dataset!r}: expected one of {list(DATASETS)}")
    result = import_nir_file(graph, output, dt, _shape(image_shape), encoding, temporal_steps, gap,
                             DataConfig(dataset=dataset) if dataset else None, framework)
    for note in result.notes:
        click.echo(f"note: {note}")
    for layer in result.layers:
        worst = max(layer.errors, key=lambda error: error.relative)
        click.echo(f"{layer.name:<10} scale {layer.scale:9.3f}  iDecay {layer.datasets['neuron']['iDecay']:4d}  "
                   f"vDecay {layer.datasets['neuron']['vDecay']:4d}  vThMant {layer.datasets['neuron']['vThMant']:6d}  "
                   f"worst error {worst.parameter} {100 * worst.relative:.2f} %")
    click.echo(f"wrote {result.network_file} and {result.manifest_file} (dt {result.network.dt:g} s, "
               f"{result.network.hops} hops of latency in the schedule's gap)")
    if dataset and check_samples:
        from neurodeploy.interop.silence import silent_after_import

        for line in silent_after_import(result.network_file, check_samples):
            click.echo(f"warning: {line}", err=True)


@click.command("export-nir")
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="The .nir to write.")
@click.option("--dt", type=float, help="Seconds per step (required unless the manifest records it).")
@click.option("--for", "reader", type=click.Choice(FRAMEWORKS),
              help="Framework that will import the graph, where its importer needs another equivalent "
                   "form (norse: LIF gains in the weights, since it ignores r).")
def export_nir(network: str, output: str, dt: Optional[float], reader: Optional[str]) -> None:
    """Write the NIR graph of a netx NETWORK, de-quantised, with dt recorded."""
    from neurodeploy.core.atomic import check_output
    from neurodeploy.interop.files import export_nir_file

    check_output(output, "NIR graph")
    graph = export_nir_file(network, output, dt, reader)
    click.echo(f"wrote {output} ({len(graph.nodes)} nodes, dt {graph.metadata['dt']:g} s)")


@click.command("parity-nir")
@click.argument("graph", type=click.Path(dir_okay=False))
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--samples", "-n", type=click.IntRange(min=1), help="Test samples (default: all).")
@click.option("--lava/--no-lava", default=False, show_default=True, help="Also run Lava fixed_pt.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True, max=1e6), default=None,
              help="Wall-clock limit in seconds for the Lava run (default: none; a run with no new time step for 30 s is stopped as hung).")
@json_option("fidelity report")
def parity_nir(graph: str, network: str, samples: Optional[int], lava: bool, timeout_s: float,
               json_path: Optional[str]) -> None:
    """Float NIR GRAPH vs its quantised NETWORK on the manifest's test data, same spikes."""
    from neurodeploy.interop.fidelity import fidelity
    from neurodeploy.interop.files import NIR_KEY, encoded_test_split
    from neurodeploy.interop.layers import NirError
    from neurodeploy.interop.nir_import import load_graph
    from neurodeploy.core.manifest import Manifest

    check_json_target(json_path, "fidelity report")
    manifest = Manifest.beside(network, instead="")
    if manifest is None:
        raise NirError(f"{network}: no manifest beside it; parity-nir takes the test data, the frame schedule "
                       f"and dt from the manifest import-nir wrote")
    recorded = manifest.neuron.get(NIR_KEY, {})
    float_network = load_graph(graph, recorded.get("dt"), recorded.get("framework")).network
    spikes, labels = encoded_test_split(network, manifest, float_network.input_shape, samples)
    report = fidelity(float_network, network, spikes, labels, lava=lava, timeout_s=timeout_s)
    data = report.to_dict()
    emit(json_path, data, lambda: print_fields(f"parity-nir: {graph} vs {network}",
                                               {k: v for k, v in data.items() if k != "quantisation"}))
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
