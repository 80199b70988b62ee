"""What the NIR importer reads on the user's behalf and what it refuses: exporter
conventions, batch dimensions, parameters that are not finite numbers, unreadable files,
and the output path named in the post-write check."""
from __future__ import annotations

import h5py
import math
import nir  # the [nir] extra: missing, this fails loudly (no skip)
import numpy as np
import pytest

from neurodeploy.app.cli import main
from neurodeploy.interop.conventions import CONVENTIONS, detect
from neurodeploy.interop.files import import_nir_file
from neurodeploy.interop.layers import NirError
from neurodeploy.interop.nir_import import load_graph


def _graph(neuron, shape=(4,), metadata=None, **nodes):
    weight = np.full((3, int(np.prod(shape))), 0.5)
    return nir.NIRGraph.from_list(nir.Input(input_type=np.array(shape)), nir.Linear(weight=weight), neuron,
                                  type_check=False)


def _cuba(**changed):
    fields = dict(tau_syn=np.full(3, 2e-3), tau_mem=np.full(3, 4e-3), r=np.ones(3), v_leak=np.zeros(3),
                  v_threshold=np.ones(3), w_in=np.ones(3))
    fields.update(changed)
    return nir.CubaLIF(**fields)


def _write(path, graph, metadata=None):
    if metadata is not None:
        graph.metadata = metadata
    nir.write(path, graph)
    return path


@pytest.mark.parametrize("framework, current, voltage, gain", [
    # Euler: c = dt/tau_syn = 0.5, d = dt/tau_mem = 0.25; gain c*w_in * d*r
    ("snntorch", 0.5, 0.25, 0.5 * 0.25),
    # Norse writes tau*dt: 2e-6 and 4e-6 "seconds" are 2e-3 and 4e-3 s at dt 1e-3; whole weight into u
    ("norse", 0.5, 0.25, 1.0 * 0.25),
    # exact decays 1 - exp(-dt/tau); Rockpool: u takes the weight decayed once, v takes u whole
    ("rockpool", -math.expm1(-0.5), -math.expm1(-0.25), math.exp(-0.5)),
])
def test_each_exporter_convention_gives_its_own_decays_and_gain(tmp_path, framework, current, voltage, gain):
    scale = 1e-3 if framework == "norse" else 1.0
    neuron = _cuba(tau_syn=np.full(3, 2e-3 * scale), tau_mem=np.full(3, 4e-3 * scale))
    path = _write(tmp_path / "g.nir", _graph(neuron))
    layer = load_graph(path, 1e-3, framework).network.layers[0]
    assert layer.current_decay == pytest.approx(current, rel=1e-12)
    assert layer.voltage_decay == pytest.approx(voltage, rel=1e-12)
    assert layer.weight[0, 0] == pytest.approx(0.5 * gain, rel=1e-12)


def test_sinabs_time_constants_are_steps_and_decay_exactly(tmp_path):
    lif = nir.LIF(tau=np.full(3, 4.0), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3))
    path = _write(tmp_path / "g.nir", _graph(lif))
    layer = load_graph(path, 1.0, "sinabs").network.layers[0]
    assert layer.voltage_decay == pytest.approx(1 - math.exp(-1 / 4), rel=1e-12)
    assert layer.weight[0, 0] == pytest.approx(0.5 * (1 - math.exp(-1 / 4)), rel=1e-12)


def test_the_framework_named_in_the_metadata_is_used_and_a_contradicting_flag_refused(tmp_path):
    path = _write(tmp_path / "g.nir", _graph(_cuba()), {"source": "exported by Norse 1.1"})
    loaded = load_graph(path, 1e-6)
    assert loaded.convention is CONVENTIONS["norse"] and "named in the graph's metadata" in loaded.notes[0]
    assert detect(nir.read(path, type_check=False)) == "norse"
    with pytest.raises(NirError, match="--from snntorch but the graph's metadata names norse"):
        load_graph(path, 1e-6, "snntorch")


def test_no_dt_message_cites_the_exporters_own_step(tmp_path):
    path = _write(tmp_path / "g.nir", _graph(_cuba()))
    with pytest.raises(NirError, match=r"Norse's to_nir defaults to dt = 1e-3.*--dt 0\.001"):
        load_graph(path, None, "norse")
    with pytest.raises(NirError, match=r"writes time constants in steps.*--dt 1\b"):
        load_graph(path, None, "sinabs")


@pytest.mark.parametrize("shape, kept", [((1, 4), (4,)), ((1, 1, 2, 2), (1, 2, 2))])
def test_a_leading_batch_dimension_is_dropped_and_said(tmp_path, shape, kept):
    graph = _graph(_cuba(), shape=shape)
    if len(shape) == 4:
        graph.nodes["0"] = nir.Flatten(input_type={"input": np.array(shape[1:])}, start_dim=0, end_dim=-1)
        graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array(shape)),
                                       nir.Flatten(input_type={"input": np.array(kept)}, start_dim=0, end_dim=-1),
                                       nir.Linear(weight=np.full((3, 4), 0.5)), _cuba(), type_check=False)
    loaded = load_graph(_write(tmp_path / "g.nir", graph), 1e-3)
    assert loaded.network.input_shape == kept
    assert any(f"input shape {shape} is read as a batch dimension and dropped" in note for note in loaded.notes)


def test_a_one_channel_image_is_not_taken_for_a_batch(tmp_path):
    conv = nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 3, 3)), stride=1, padding=0, dilation=1,
                      groups=1, bias=np.zeros(2))
    lif = nir.LIF(tau=np.full((2, 2, 2), 4e-3), r=np.ones((2, 2, 2)), v_leak=np.zeros((2, 2, 2)),
                  v_threshold=np.ones((2, 2, 2)))
    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([1, 4, 4])), conv, lif, type_check=False)
    loaded = load_graph(_write(tmp_path / "g.nir", graph), 1e-3)
    assert loaded.network.input_shape == (1, 4, 4) and len(loaded.notes) == 1


def _raw(path, edit):
    """Edit a written NIR file's datasets directly (what a hostile or broken writer leaves)."""
    with h5py.File(path, "r+") as handle:
        edit(handle["node"])
    return path


def _replace(group, key, value):
    del group[key]
    group[key] = value


@pytest.mark.parametrize("edit, message", [
    (lambda n: _replace(n["nodes/cubalif"], "v_threshold", np.full(3, np.nan)), "v_threshold holds nan; NIR parameters must be finite"),
    (lambda n: _replace(n["nodes/cubalif"], "tau_mem", np.array([1.0, np.inf, 1.0])), "tau_mem holds inf"),
    (lambda n: _replace(n["nodes/linear"], "weight", np.full((3, 4), b"w")), "weight is an array of |S1 (3, 4), not numbers"),
    (lambda n: _replace(n["nodes/linear"], "weight", "heavy"),
     "not a readable NIR graph (AttributeError: 'str' object has no attribute 'shape')"),
    (lambda n: _replace(n["metadata"], "dt", "1e-3"), "metadata dt = '1e-3'; NIR records dt as one finite number"),
    (lambda n: _replace(n["metadata"], "dt", np.nan), "metadata dt = nan"),
    (lambda n: n["nodes/cubalif"].__delitem__("tau_syn"), "missing 1 required positional argument: 'tau_syn'"),
    (lambda n: n["nodes/cubalif"].__delitem__("type"), "a node lacks the field 'type'"),
])
def test_malformed_parameters_are_one_line_exit_2(tmp_path, capsys, edit, message):
    graph = _graph(_cuba())
    path = _raw(_write(tmp_path / "g.nir", graph, {"dt": 1e-3}), edit)
    (tmp_path / "out").mkdir()
    with pytest.raises(SystemExit) as stop:
        main(["import-nir", str(path), "-o", str(tmp_path / "out" / "m.net")])
    error = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and message in error and "\n" not in error and "g.nir" in error, error
    assert not any((tmp_path / "out").iterdir())


def test_dt_of_nan_from_the_command_line_is_refused(tmp_path):
    path = _write(tmp_path / "g.nir", _graph(_cuba()))
    with pytest.raises(NirError, match="--dt nan; it must be a finite number"):
        load_graph(path, float("nan"))


def test_a_bug_while_reading_is_not_called_not_nir(tmp_path, monkeypatch):
    """Only reading failures become "not a NIR graph"; anything else shows as what it is."""
    path = _write(tmp_path / "g.nir", _graph(_cuba()))

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr(nir, "read", broken)
    with pytest.raises(ZeroDivisionError):
        load_graph(path, 1e-3)


def test_the_post_write_check_names_the_output_not_the_temporary_file(tmp_path, monkeypatch):
    from neurodeploy.core.errors import NetworkFileError
    from neurodeploy.backends.emulator import layers as emulator_layers

    def refuse(netx, image):
        raise NetworkFileError(f"{netx.path}: layer dense0: refused")
    monkeypatch.setattr(emulator_layers, "build_layers", refuse)
    path = _write(tmp_path / "g.nir", _graph(_cuba()))
    with pytest.raises(NetworkFileError) as caught:
        import_nir_file(path, tmp_path / "model.net", 1e-3)
    assert str(caught.value).startswith(f"{tmp_path / 'model.net'}: layer dense0") and "partial" not in str(caught.value)
    assert not (tmp_path / "model.net").exists()


def test_export_for_norse_moves_the_lif_gain_into_the_weights_and_means_the_same(tmp_path):
    """Norse's importer ignores a LIF's r: ``--for norse`` writes r = 1 and the gain in the
    weights, a graph that NIR (and this importer) reads as the same network."""
    from neurodeploy.interop.files import export_nir_file

    lif = nir.LIF(tau=np.full(3, 4e-3), r=np.full(3, 4.0), v_leak=np.zeros(3), v_threshold=np.ones(3))
    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([4])),
                                   nir.Affine(weight=np.full((3, 4), 0.5), bias=np.full(3, 0.1)), lif)
    (tmp_path / "a").mkdir()
    original = import_nir_file(_write(tmp_path / "g.nir", graph), tmp_path / "a" / "model.net", 1e-3).network_file
    export_nir_file(original, tmp_path / "plain.nir")
    graph = export_nir_file(original, tmp_path / "norse.nir", reader="norse")
    lifs = [node for node in graph.nodes.values() if isinstance(node, nir.LIF)]
    assert lifs and all(np.all(node.r == 1) for node in lifs)
    plain, norse = (load_graph(tmp_path / f"{name}.nir", None).network.layers for name in ("plain", "norse"))
    for a, b in zip(plain, norse):
        assert a.voltage_decay == b.voltage_decay and a.threshold == b.threshold
        np.testing.assert_allclose(b.weight, a.weight, rtol=1e-12)
        np.testing.assert_allclose(b.bias_per_neuron(), a.bias_per_neuron(), rtol=1e-12, atol=1e-15)
