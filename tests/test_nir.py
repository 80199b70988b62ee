"""NIR <-> netx: bit-exact round trips, every supported primitive on the emulator and Lava,
float-vs-Loihi fidelity, and bad input refused with one line and nothing written."""
from __future__ import annotations

import h5py
import nir  # the [nir] extra, installed in both CI legs: missing, this fails loudly (no skip)
import numpy as np
import pytest

from neurodeploy.app.cli import main
from neurodeploy.interop.fidelity import fidelity
from neurodeploy.interop.files import export_nir_file, import_nir_file
from neurodeploy.interop.layers import NirError
from tests import netx_factory as nf

DT = 1e-3


def _datasets(path):
    found = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: found.__setitem__(name, np.asarray(item[()]))
                          if isinstance(item, h5py.Dataset) else None)
    return found


@pytest.mark.parametrize("make, input_shape", [
    (nf.digits_like, (1, 8, 8)), (nf.conv_net, (2, 8, 10)),
    (nf.delay_net, (10, 1, 1)), (nf.recurrent_net, (16, 1, 1))])
def test_netx_nir_netx_round_trip_is_bit_exact(tmp_path, make, input_shape):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    original = make(tmp_path / "a" / "model.net")
    nf.write_manifest(original, input_shape=input_shape)
    export_nir_file(original, tmp_path / "model.nir", dt=DT)
    graph = nir.read(tmp_path / "model.nir")            # NIR's own type checks
    assert float(graph.metadata["dt"]) == DT
    again = import_nir_file(tmp_path / "model.nir", tmp_path / "b" / "model.net").network_file
    before, after = _datasets(original), _datasets(again)
    assert sorted(before) == sorted(after)
    for key, value in before.items():
        assert np.array_equal(value, after[key]), key


def _neuron(kind, n, shape=None, **extra):
    shape = shape or (n,)
    full = lambda v: np.full(shape, float(v))  # noqa: E731
    if kind == "LIF":
        return nir.LIF(tau=full(4e-3), r=full(4.0), v_leak=full(0), v_threshold=full(1.0), **extra)
    if kind == "IF":
        return nir.IF(r=full(1 / DT), v_threshold=full(1.5), **extra)
    if kind == "LI":
        return nir.LI(tau=full(5e-3), r=full(5.0), v_leak=full(0))
    return nir.CubaLIF(tau_syn=full(2e-3), tau_mem=full(8e-3), r=full(8.0), v_leak=full(0.05),
                       v_threshold=full(1.0), w_in=full(2.0), **extra)


def _dense_graph(rng):
    """Linear, CubaLIF with recurrence, Delay (per input), Linear, Delay (per neuron), LIF,
    Affine, IF, Linear, LI read-out."""
    nodes = {
        "input": nir.Input(input_type=np.array([12])),
        "d_in": nir.Delay(delay=rng.integers(0, 3, 10) * DT),
        "w1": nir.Linear(weight=rng.normal(0, 0.6, (10, 12))),
        "n1": _neuron("CubaLIF", 10),
        "r1": nir.Linear(weight=rng.normal(0, 0.3, (10, 10))),
        "w2": nir.Linear(weight=rng.normal(0, 0.8, (8, 10))),
        "d_out": nir.Delay(delay=rng.integers(0, 4, 8) * DT),
        "n2": _neuron("LIF", 8),
        "w3": nir.Affine(weight=rng.normal(0, 0.8, (6, 8)), bias=rng.normal(0, 0.05, 6)),
        "n3": _neuron("IF", 6),
        "w4": nir.Linear(weight=rng.normal(0, 0.5, (4, 6))),
        "n4": _neuron("LI", 4),
        "output": nir.Output(output_type=np.array([4])),
    }
    chain = ["input", "w1", "n1", "d_in", "w2", "d_out", "n2", "w3", "n3", "w4", "n4", "output"]
    edges = list(zip(chain, chain[1:])) + [("n1", "r1"), ("r1", "n1")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT})


def _conv_graph(rng):
    conv = nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0, 0.5, (3, 2, 3, 3)), stride=1, padding=1,
                      dilation=1, groups=1, bias=rng.normal(0, 0.2, 3))   # netx holds it (W, H, C)
    return nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([2, 6, 6])), conv, _neuron("IF", 0, (3, 6, 6)),
        nir.Flatten(input_type={"input": np.array([3, 6, 6])}, start_dim=0, end_dim=-1),
        nir.Affine(weight=rng.normal(0, 0.3, (5, 108)), bias=np.zeros(5)), _neuron("LIF", 5))


@pytest.mark.lava
@pytest.mark.parametrize("make, shape", [(_dense_graph, (12,)), (_conv_graph, (2, 6, 6))])
def test_every_primitive_imports_validates_and_emulates_as_lava_runs(tmp_path, make, shape):
    from neurodeploy.hardware.validate import validate_file

    rng = np.random.default_rng(1)
    nir.write(tmp_path / "g.nir", make(rng))
    result = import_nir_file(tmp_path / "g.nir", tmp_path / "g.net", dt=DT)
    report = validate_file(result.network_file, "loihi2", None, None)
    assert report.exit_code == 0, [f.check for f in report.findings if f.severity == "error"]
    spikes = rng.random((4, 14, *shape)) < 0.4
    measured = fidelity(result.network, result.network_file, spikes, lava=True, timeout_s=240)
    assert measured.agreement["emulator_lava_counts"] == 1.0
    assert measured.agreement["emulator_lava"] == 1.0
    assert not measured.warnings       # every layer fires, in float and on Loihi
    spiking = [layer for layer in measured.layers if result.network.layer(layer.layer).spiking]
    assert len(spiking) == len(measured.layers) - (make is _dense_graph)   # all but the LI read-out
    assert all(layer.loihi_spikes > 0 and layer.float_spikes > 0 for layer in spiking)


def test_float_reference_matches_the_emulator_where_quantisation_is_exact(tmp_path):
    """At a recorded scale of 64 the weights (k / 8) and threshold land on Loihi's grid and
    nothing decays: no rounding left, so float NIR and the emulator agree spike for spike."""
    rng = np.random.default_rng(2)
    weight = rng.integers(-8, 9, (6, 10)) / 8.0
    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([10])), nir.Linear(weight=weight),
                                   nir.LIF(tau=np.full(6, 1e-3), r=np.ones(6), v_leak=np.zeros(6),
                                           v_threshold=np.full(6, 1.0), metadata={"loihi_scale": 64.0}))
    nir.write(tmp_path / "g.nir", graph)
    result = import_nir_file(tmp_path / "g.nir", tmp_path / "g.net", dt=1e-3)
    spikes = rng.random((16, 12, 10)) < 0.5
    measured = fidelity(result.network, result.network_file, spikes)
    assert measured.agreement["float_emulator"] == 1.0
    assert all(layer.first_divergent_step is None for layer in measured.layers)
    assert {e.parameter for e in measured.quantisation} >= {"weight", "threshold", "voltage_decay"}


def _lif_graph(tau=4e-3, threshold=1.0, v_reset=0.0, extra=None):
    nodes = [nir.Input(input_type=np.array([4])), nir.Linear(weight=np.full((3, 4), 0.5)),
             nir.LIF(tau=np.full(3, tau), r=np.ones(3), v_leak=np.zeros(3),
                     v_threshold=np.full(3, threshold), v_reset=np.full(3, v_reset))]
    return nir.NIRGraph.from_list(*(nodes + (extra or [])), type_check=False)


def _cycle_graph():
    lif = lambda: nir.LIF(tau=np.full(4, 4e-3), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4))  # noqa: E731
    nodes = {"input": nir.Input(input_type=np.array([4])), "w0": nir.Linear(weight=np.eye(4)), "a": lif(),
             "w1": nir.Linear(weight=np.eye(4)), "b": lif(), "w2": nir.Linear(weight=np.eye(4)),
             "output": nir.Output(output_type=np.array([4]))}
    edges = [("input", "w0"), ("w0", "a"), ("a", "w1"), ("w1", "b"), ("b", "w2"), ("w2", "a"), ("b", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_text("not hdf5"), "not a NIR graph"),
    (lambda p: nir.write(p, _cycle_graph()), "cycle"),
    (lambda p: nir.write(p, _lif_graph(extra=[nir.Scale(scale=np.ones(3))])), "is a Scale, which netx cannot run"),
    (lambda p: nir.write(p, _lif_graph(tau=100.0)), "rounds to a 12-bit decay of 0"),
    (lambda p: nir.write(p, _lif_graph(threshold=1e6)), "threshold mantissa holds 1..131071"),
    (lambda p: nir.write(p, _lif_graph(v_reset=0.5)), "Loihi resets v to 0"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, write, message):
    write(tmp_path / "bad.nir")
    (tmp_path / "out").mkdir()
    with pytest.raises(SystemExit) as stop:
        main(["import-nir", str(tmp_path / "bad.nir"), "-o", str(tmp_path / "out" / "m.net"), "--dt", "1e-3"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error and "bad.nir" in error
    assert not any((tmp_path / "out").iterdir())


def test_dt_is_never_assumed(tmp_path):
    nir.write(tmp_path / "g.nir", _lif_graph())
    with pytest.raises(NirError, match="records no dt; pass --dt"):
        import_nir_file(tmp_path / "g.nir", tmp_path / "g.net")
    with pytest.raises(NirError, match="no dt recorded"):
        export_nir_file(nf.digits_like(tmp_path / "d.net"), tmp_path / "d.nir")
