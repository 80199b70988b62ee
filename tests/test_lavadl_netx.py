"""lava-dl's own netx files: neurodeploy accepts exactly the ones netx builds, and runs
reproduce lava-dl's golden outputs.

lava-dl's wheel installs its netx test networks and golden outputs under
``site-packages/tests/lava/lib/dl/netx`` (the same files lava-dl's ``test_hdf5.py`` and
``test_hdf5_nx.py`` read). Every ``.net`` there is read and validated by neurodeploy and
built by netx (``tests/netx_oracle.py``); the two verdicts must agree. Where lava-dl
compares a run with a golden output, the same comparison is made here, exactly:

- ``tiny.net`` (``test_tinynet``): output spikes of a bias-driven Input block and two
  convs, on the emulator and on Lava through ``neurodeploy.simulate``;
- ``ntidigits.net``'s first five layers, the part netx builds (``test_axonal_delay_ntidigits``:
  axonal delays): the whole output spike train, emulator (Lava: slow);
- PilotNet LIF (``test_pilotnet_lif``, a Loihi 2 measurement): every block's current
  after 15 steps on Lava, and the emulator's spikes equal to that run's (slow);
- PilotNet SDNN (``test_pilotnet_sdnn``, ``test_pilotnet_sdnn_square``): the graded
  output and every block's sigma on Lava (run through netx directly: neurodeploy feeds
  binary spikes or biases); the emulator refuses sigma-delta neurons by name.
"""
from __future__ import annotations

import sysconfig
from pathlib import Path

import h5py
import numpy as np
import pytest

import neurodeploy as nd
from neurodeploy.core.errors import NetworkFileError
from neurodeploy.core.inputs import BiasInput, SpikeInput
from neurodeploy.core.netxfile import read_netx
from tests.netx_oracle import Verdict, shared

pytestmark = pytest.mark.lava  # lava-dl's installed netx files and Lava

LAVADL_NETX = Path(sysconfig.get_paths()["purelib"]) / "tests" / "lava" / "lib" / "dl" / "netx"
GOLDEN = LAVADL_NETX / "gts"
#: The files lava-dl 0.6.0 installs; the walk below finds at least these.
SHIPPED = ("mnist.net", "tiny.net", "gts/ntidigits/ntidigits.net", "gts/pilotnet_lif/network.net",
           "gts/pilotnet_sdnn/network.net", "gts/pilotnet_sdnn/square_network.net")
FOUND = sorted(str(path.relative_to(LAVADL_NETX)) for path in LAVADL_NETX.rglob("*.net"))


@pytest.fixture(scope="module")
def oracle():
    return shared()


def test_lavadl_ships_its_netx_files():
    assert LAVADL_NETX.is_dir(), f"{LAVADL_NETX}: lava-dl's installed netx tests are missing"
    assert set(SHIPPED) <= set(FOUND), FOUND


def _neurodeploy_accepts(path: Path) -> tuple[bool, str]:
    """Read and validated for Loihi 2 without an error: what ``validate`` calls deployable."""
    try:
        report = nd.validate(path, "loihi2")
    except NetworkFileError as error:
        return False, str(error)
    errors = [f"{finding.layer}: {finding.check}" for finding in report.findings if finding.severity == "error"]
    return not errors, "; ".join(errors)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", FOUND)
def test_neurodeploy_accepts_exactly_what_netx_builds(name, oracle):
    path = LAVADL_NETX / name
    accepted, why = _neurodeploy_accepts(path)
    verdict: Verdict = oracle.build(path)
    assert accepted == verdict.built, f"{name}: netx {'builds' if verdict.built else 'refuses'} it " \
                                      f"({verdict.error or verdict.blocks}); neurodeploy {why or 'accepts it'}"
    if accepted:  # the blocks netx builds are the blocks neurodeploy reads
        from neurodeploy.core.blocks import runnable_blocks

        kinds = {"input": "Input", "dense": "Dense", "dense_rec": "RecurrentDense", "conv": "Conv"}
        assert tuple(kinds[block.layer.type] for block in runnable_blocks(read_netx(path))) == verdict.blocks


def test_pilotnet_and_tiny_read_as_netx_reads_them():
    """The two files issue 19 found refused: a 5-axis conv kernel, a flat dense weight."""
    tiny = read_netx(LAVADL_NETX / "tiny.net")
    assert [layer.weight.shape for layer in tiny.layers[1:]] == [(24, 3, 5, 5), (36, 24, 5, 5)]
    assert [layer.kernel for layer in tiny.layers[1:]] == [(5, 5), (5, 5)]
    assert [layer.input_shape for layer in tiny.layers[1:]] == [(16, 16, 3), (6, 6, 24)]
    pilotnet = read_netx(GOLDEN / "pilotnet_lif" / "network.net")
    last = pilotnet.layers[-1]
    assert (last.shape, last.weight.shape, last.input_shape) == ((1,), (1, 10), (10,))
    assert pilotnet.layer("dense7").shape == (100,) and pilotnet.layer("dense7").input_shape == (2560,)


# --- golden outputs ---------------------------------------------------------------------

def _tiny_golden() -> tuple[BiasInput, np.ndarray]:
    """lava-dl's test_tinynet: the Input block's bias set to ``input_bias.npy`` (x, y, c),
    17 steps a sample with every block reset as its window opens; the output's steps 3..17
    against ``output.npy``'s steps 1..15 (a 15-step decision window here)."""
    bias = np.load(GOLDEN / "tinynet" / "input_bias.npy").astype(np.int64).transpose(2, 1, 0)[None]
    gold = np.load(GOLDEN / "tinynet" / "output.npy")[0].reshape(36, 16)[:, 1:].T
    return BiasInput(bias, 17), gold.astype(bool)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["emulator", "lava"])
def test_tiny_net_reproduces_lavadl_golden_output(backend):
    inputs, gold = _tiny_golden()
    result = nd.simulate(LAVADL_NETX / "tiny.net", inputs, backend=backend, keep_output=True, timeout_s=240)
    assert gold.sum() == 92  # the golden output is not silent
    np.testing.assert_array_equal(result.output_spikes[0], gold)


def _ntidigits_built_part(folder: Path) -> Path:
    """ntidigits.net without its last (average) layer, which netx has no builder for:
    what lava-dl's test builds with ``num_layers=5``."""
    path = folder / "ntidigits5.net"
    with h5py.File(GOLDEN / "ntidigits" / "ntidigits.net", "r") as source, h5py.File(path, "w") as target:
        layers = target.create_group("layer")
        for index in range(5):
            source.copy(source[f"layer/{index}"], layers, name=str(index))
    return path


def _ntidigits_check(result: nd.SimulationResult) -> None:
    """The whole output train: window step r of the output block (3 hops deep) is Lava
    step r + 4, ``output.npy``'s column r + 4; its first four columns are silent."""
    gold = np.load(GOLDEN / "ntidigits" / "output.npy").astype(bool).T  # (3000, 242)
    spikes = result.output_spikes[0]
    assert spikes.shape == (2997, 242) and gold[:4].sum() == 0 and gold.sum() == 22572
    np.testing.assert_array_equal(spikes[:2996], gold[4:])


def _ntidigits_inputs() -> SpikeInput:
    raw = np.load(GOLDEN / "ntidigits" / "input.npy").astype(bool)  # (64, 3000)
    return SpikeInput(raw.T.reshape(1, 3000, 1, 1, 64))             # the input layer's (C, H, W)


@pytest.mark.timeout(300)
def test_ntidigits_delays_reproduce_lavadl_golden_on_the_emulator(tmp_path, oracle):
    path = _ntidigits_built_part(tmp_path)
    assert oracle.build(path).built
    result = nd.simulate(path, _ntidigits_inputs(), backend="emulator", reset=False, keep_output=True)
    _ntidigits_check(result)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_ntidigits_delays_reproduce_lavadl_golden_on_lava(tmp_path):
    path = _ntidigits_built_part(tmp_path)
    result = nd.simulate(path, _ntidigits_inputs(), backend="lava", reset=False, keep_output=True,
                         timeout_s=1500)
    _ntidigits_check(result)


def test_the_emulator_refuses_sigma_delta_by_name(tmp_path):
    network = GOLDEN / "pilotnet_sdnn" / "network.net"
    bias = np.zeros((1, 3, 33, 100), dtype=np.int64)
    with pytest.raises(NetworkFileError) as refused:
        nd.simulate(network, BiasInput(bias, 4), backend="emulator")
    message = str(refused.value)
    assert "SDNN" in message and "\n" not in message and str(network) in message


def _pilotnet_image() -> np.ndarray:
    return np.load(GOLDEN / "pilotnet_lif" / "image.npy").astype(int)  # (x, y, c)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pilotnet_lif_reproduces_lavadl_golden_on_lava_and_the_emulator_spikes_as_lava():
    """lava-dl's test_pilotnet_lif (a Loihi 2 board's currents; lava-dl checks block 8):
    every block's current after 15 steps on Lava's fixed_pt simulator, netx built as
    lava-dl builds it (``reset_interval=16``, the image as the Input block's bias). The
    emulator, which exposes spikes rather than currents, fires every block's spikes of
    those steps exactly as that Lava run does (block ``h`` hops deep answers from step
    ``h + 1``, when it resets)."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    steps = 15
    network = netx.hdf5.Network(net_config=str(GOLDEN / "pilotnet_lif" / "network.net"), reset_interval=16)
    network.in_layer.neuron.bias_mant.init = _pilotnet_image()
    sinks = [io.sink.RingBuffer(shape=block.out.shape, buffer=steps) for block in network.layers]
    for block, sink in zip(network.layers, sinks):
        block.out.connect(sink.a_in)
    try:
        network.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        currents = [block.neuron.u.get() for block in network.layers[1:]]
        lava_spikes = [sink.data.get() for sink in sinks]
    finally:
        network.stop()
    names = [f"conv-{k}" for k in range(5)] + [f"fc-{k}" for k in range(4)]
    for name, current in zip(names, currents):
        gold = np.load(GOLDEN / "pilotnet_lif" / f"{name}-u.npy")[..., steps - 1]
        np.testing.assert_array_equal(current, gold.reshape(current.shape), err_msg=name)

    inputs = BiasInput(_pilotnet_image().transpose(2, 1, 0)[None], 16)
    emulated = nd.simulate(GOLDEN / "pilotnet_lif" / "network.net", inputs, backend="emulator", record=True)
    assert len(emulated.recording) == len(lava_spikes) == 10
    for (name, trace), lava in zip(emulated.recording.items(), lava_spikes):
        answered = lava[..., trace.hops:steps]                           # Lava steps hops + 1 .. 15
        ours = np.moveaxis(trace.spikes[0, :steps - trace.hops], 0, -1)  # (C, H, W, t) or (n, t)
        if ours.ndim == 4:
            ours = ours.transpose(2, 1, 0, 3)                            # Lava's (x, y, c, t)
        np.testing.assert_array_equal(ours, answered.astype(bool), err_msg=name)
    assert sum(int(lava.sum()) for lava in lava_spikes[1:]) > 0


@pytest.mark.timeout(300)
def test_pilotnet_sdnn_reproduces_lavadl_golden_on_lava():
    """lava-dl's test_pilotnet_sdnn: graded input into the Input block's neurons, the
    sigma output after as many steps as blocks (neurodeploy's runner feeds binary spikes
    or biases, so this runs netx directly)."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    network = netx.hdf5.Network(net_config=str(GOLDEN / "pilotnet_sdnn" / "network.net"))
    source = io.source.RingBuffer(data=np.load(GOLDEN / "pilotnet_sdnn" / "input.npy"))
    sink = io.sink.RingBuffer(shape=network.out_layer.shape, buffer=len(network.layers))
    source.s_out.connect(network.in_layer.neuron.a_in)
    network.out_layer.out.connect(sink.a_in)
    try:
        network.run(condition=RunSteps(num_steps=len(network.layers)), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        output = sink.data.get()
    finally:
        network.stop()
    gold = np.load(GOLDEN / "pilotnet_sdnn" / "output.npy")
    assert np.abs(gold).sum() > 0
    np.testing.assert_array_equal(output, gold)


@pytest.mark.timeout(300)
def test_pilotnet_sdnn_square_reproduces_lavadl_golden_on_lava():
    """lava-dl's test_pilotnet_sdnn_square (a Loihi 2 board's sigma states): the Input
    block skipped, graded activations into the first conv's synapse, each block's sigma
    after 5 steps, on Lava's fixed_pt simulator."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    network = netx.hdf5.Network(net_config=str(GOLDEN / "pilotnet_sdnn" / "square_network.net"), skip_layers=1)
    source = io.source.RingBuffer(data=np.load(GOLDEN / "pilotnet_sdnn" / "act0.npy")[:33, :33])
    source.s_out.connect(network.in_layer.synapse.s_in)
    try:
        network.run(condition=RunSteps(num_steps=5), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        sigmas = [block.neuron.sigma.get() for block in network.layers]
    finally:
        network.stop()
    assert len(sigmas) == 4
    for index, sigma in enumerate(sigmas, start=1):
        gold = np.load(GOLDEN / "pilotnet_sdnn" / f"sigma{index}_square.npy")[..., 4]
        assert np.abs(gold).sum() > 0
        np.testing.assert_array_equal(sigma, gold, err_msg=f"sigma{index}")
