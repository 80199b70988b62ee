"""Every result of the API has one face (neurodeploy.core.results.ResultShape): a one-line repr,
to_dict/to_json that agree, a notebook table, and plot() returning a figure (and a PNG).

Built from data (no Lava run): a parity report from its dataclasses, a validation from a
network written by netx_factory whose first layer's fan-in breaks Loihi 1's input axons.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.netx_factory import dense_layer, write_netx
from neurodeploy.app.parity import Comparison, Divergence, ParityReport

PNG = b"\x89PNG\r\n\x1a\n"


def _parity(accuracy: dict[str, float]) -> ParityReport:
    same = Divergence("dense0", 100, 0, 0, None, None, 0, 0, None)
    off = Divergence("dense1", 50, 5, 2, 3, 1, 4, 2, 3)
    return ParityReport("runs/x/model.net", 10, 18, accuracy,
                        (Comparison("emulator", "lava", (same, Divergence("dense1", 50, 0, 0, None, None, 0, 0, None)),
                                    1.0),
                         Comparison("torch", "lava", (same, off), 0.9)))


def _shape_holds(result, tmp_path, **options) -> dict:
    """The shared face, checked on ``result``: what to_json writes equals what it returns
    and what to_dict gives; the repr is one short line; the HTML table holds the headline."""
    text = result.to_json(str(tmp_path / "r.json"), **options)
    data = json.loads(text)
    assert data == json.loads((tmp_path / "r.json").read_text()) == json.loads(json.dumps(result.to_dict(**options)))
    line = repr(result)
    assert "\n" not in line and len(line) < 160 and line.startswith(type(result).__name__ + "(")
    assert result._repr_html_().startswith("<b>") and "<table>" in result._repr_html_()
    figure = result.plot(str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG and figure.axes
    return data


def test_parity_report_shape(tmp_path):
    report = _parity({"torch": 0.8, "lava": 0.9})
    data = _shape_holds(report, tmp_path)
    assert data["emulator_exact"] is True and data["accuracy"] == {"torch": 0.8, "lava": 0.9}
    assert report.agreement == {"emulator/lava": 1.0, "torch/lava": 0.9}
    assert repr(report) == ("ParityReport(model.net: 10 samples x 18 steps, emulator = Lava exactly; "
                            "agree emulator/lava 100.0 %, torch/lava 90.0 %)")
    html = report._repr_html_()
    assert "<td>torch / lava</td><td>90.0 %</td><td>5 / 150</td><td>dense1 (step 3)</td>" in html
    assert "<td>emulator / lava</td><td>100.0 %</td><td>0 / 150</td><td>-</td>" in html
    # the left panel: agreement per pair then accuracy per backend, the right: differing share per layer
    left, right = report.plot().axes
    assert [label.get_text() for label in left.get_xticklabels()] == [
        "agree emulator/lava", "agree torch/lava", "accuracy torch", "accuracy lava"]
    assert [round(bar.get_height(), 6) for bar in left.patches] == [100.0, 90.0, 80.0, 90.0]
    assert sorted(round(bar.get_height(), 6) for bar in right.patches) == [0.0, 0.0, 0.0, 10.0]


def test_parity_plot_without_labels_shows_agreement_only(tmp_path):
    left, _ = _parity({}).plot().axes
    assert [label.get_text() for label in left.get_xticklabels()] == ["agree emulator/lava", "agree torch/lava"]


def test_validation_result_shape_and_core_map(tmp_path):
    import neurodeploy as nd
    from neurodeploy.hardware.validate import ValidationReport, validate_file

    rng = np.random.default_rng(0)
    net = write_netx(tmp_path / "wide.net", [dense_layer(rng.integers(-8, 8, (20, 5000)) * 2),
                                             dense_layer(rng.integers(-8, 8, (10, 20)) * 2)])
    result = nd.validate(net, "loihi1")
    assert isinstance(result, ValidationReport)
    assert result.to_dict() == validate_file(net, "loihi1").to_dict()  # the same report, only shown better
    data = _shape_holds(result, tmp_path)
    assert data["verdict"] == "not deployable" and result.failing_layers == ("dense0",)
    assert repr(result) == (f"ValidationResult(wide.net on loihi1: not deployable, {result.count('error')} errors, "
                            f"{result.count('warning')} warnings, {result.mapping.cores} cores, "
                            f"{result.mapping.chips} chip(s))")
    assert "<td>resources.input_axons</td><td>5000</td><td>4096</td>" in result._repr_html_()
    cores_axis, _ = result.plot().axes
    assert cores_axis.figure._suptitle.get_text() == "wide.net on Intel Loihi (1): not deployable"


def test_core_map_plot_whole_cores_and_failing_layers_marked(tmp_path):
    from neurodeploy.hardware.profile import load_profile
    from neurodeploy.hardware.resources import map_cores
    from neurodeploy.core.netxfile import read_netx
    from neurodeploy.app.report.mapping_plot import core_map_figure, plot_core_map

    rng = np.random.default_rng(1)
    net = read_netx(write_netx(tmp_path / "n.net", [dense_layer(rng.integers(-8, 8, (300, 5000)) * 2),
                                                    dense_layer(rng.integers(-8, 8, (1500, 300)) * 2),
                                                    dense_layer(rng.integers(-8, 8, (10, 1500)) * 2)]))
    core_map = map_cores(net, load_profile("loihi1"))
    figure = core_map_figure(core_map, "n.net on Loihi 1", failing=["dense2"])
    for axis in figure.axes[:2]:
        assert all(float(tick).is_integer() for tick in axis.get_xticks())
        labels = {label.get_text(): label.get_color() for label in axis.get_xticklabels()}
        # dense0 cannot be mapped (fan-in 5000 > 4096), dense2 is named failing by the caller
        assert labels == {"\u2717 dense0": "tab:red", "dense1": "black", "\u2717 dense2": "tab:red"}
    cores_axis = figure.axes[0]
    figure.canvas.draw()
    assert all(float(tick).is_integer() for tick in cores_axis.get_yticks())
    assert [text.get_text() for text in cores_axis.texts] == [str(layer.cores) for layer in core_map.layers]
    assert figure._suptitle.get_text() == "n.net on Loihi 1"
    plot_core_map(core_map, tmp_path / "map.png", "t")
    assert (tmp_path / "map.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("neurons, cores", [(100, 1), (2148, 3)])  # Loihi 1: 1,024 neurons a core
def test_core_map_few_cores_ticks_are_whole(tmp_path, neurons, cores):
    from neurodeploy.hardware.profile import load_profile
    from neurodeploy.hardware.resources import map_cores
    from neurodeploy.core.netxfile import read_netx
    from neurodeploy.app.report.mapping_plot import core_map_figure

    net = read_netx(write_netx(tmp_path / "n.net", [dense_layer(np.ones((neurons, 8)) * 2)]))
    core_map = map_cores(net, load_profile("loihi1"))
    figure = core_map_figure(core_map, "t")
    figure.canvas.draw()
    assert [layer.cores for layer in core_map.layers] == [cores]
    assert all(float(tick).is_integer() for tick in figure.axes[0].get_yticks())
