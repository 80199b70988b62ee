"""The library example in README runs as written (on the session's small export)."""
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.timeout(300)
def test_readme_api_example_runs(small_run, capsys):
    trained, _ = small_run
    text = README.read_text()
    block = text.split("<!-- api-example -->", 1)[1].split("<!-- /api-example -->", 1)[0]
    code = block.split("```python", 1)[1].split("```", 1)[0]
    assert "runs/digits/model.net" in code
    exec(compile(code.replace("runs/digits/model.net", str(trained.network_file)), "README", "exec"), {})
    printed = capsys.readouterr().out
    assert "(8, 10)" in printed and "cores" in printed


def test_the_package_lists_its_api():
    import neurodeploy as nd
    from neurodeploy import _EXPORTS

    listed = dir(nd)
    assert set(_EXPORTS) <= set(listed) and "__version__" in listed
    assert not {"Any", "annotations", "import_module"} & set(listed)
    for name in _EXPORTS:  # help(nd) shows the docstring: every name is explained there
        assert f"{name}" in nd.__doc__, f"{name} missing from neurodeploy's docstring"


def test_arrays_are_read_as_spikes_or_images_or_refused_with_the_fix(small_run, tmp_path):
    import shutil
    import warnings

    import numpy as np

    import neurodeploy as nd
    from neurodeploy.core.errors import InputError

    trained, _ = small_run
    net = nd.load_network(trained.network_file)
    spikes = np.random.default_rng(0).random((2, 18, 1, 8, 8)) < 0.2
    assert isinstance(nd.inputs_for(net, spikes), nd.SpikeInput)
    assert isinstance(nd.inputs_for(net, spikes.astype(np.uint8)), nd.SpikeInput)  # 0/1 with a time axis
    images = trained.split.test.images[:2]
    encoded = nd.inputs_for(net, images)
    assert isinstance(encoded, nd.ImageInput) and encoded.schedule == trained.manifest.schedule
    with pytest.warns(UserWarning, match=r"not the one it was trained with \(temporal_bit, 18 steps, gap 2"):
        nd.inputs_for(net, nd.ImageInput(images, nd.FrameSchedule()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nd.inputs_for(net, nd.ImageInput(images, trained.manifest.schedule))
    with pytest.raises(InputError, match=r"nd.SpikeInput\(array\), nd.ImageInput\(images, schedule\)"):
        nd.inputs_for(net, np.full((2, 1, 8, 8), 0.5))
    alone = tmp_path / "model.net"
    shutil.copy(trained.network_file, alone)
    with pytest.raises(InputError, match=r"no manifest beside it .* gap=2"):
        nd.inputs_for(nd.load_network(alone), images)


def test_a_result_explains_itself(small_run, tmp_path):
    import json

    import neurodeploy as nd

    trained, _ = small_run
    images = trained.split.test.images[:5]
    result = nd.simulate(trained.network_file, images, backend="emulator", keep_output=True)
    assert repr(result).startswith("SimulationResult(emulator: 5 samples x 18 steps") and len(repr(result)) < 120
    assert "<table>" in result._repr_html_() and "dense0" in result._repr_html_()
    data = json.loads(result.to_json(str(tmp_path / "r.json"), labels=trained.split.test.labels[:5]))
    assert data == json.loads((tmp_path / "r.json").read_text()) and data["samples"] == 5 and "accuracy" in data
    result.plot(str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
