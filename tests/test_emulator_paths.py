"""The emulator's fast paths and device plumbing, without Lava (seconds).

Exactness against Lava of every arithmetic path is in tests/test_emulator.py and
tests/test_any_netx.py; here: the paths agree with each other where Lava would take long
(overflow rules, records, many random networks), the step table and the event input of
the encoder equal the encoder, the layer cache, and what ``device`` accepts and refuses.
"""
from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import pytest
import torch

import neurodeploy as nd
from neurodeploy.core.encoding import FrameSchedule, encode, encode_steps
from neurodeploy.core.errors import ConfigError
from neurodeploy.core.runtime import resolve_device, thread_count
from neurodeploy.core.blocks import NetworkTiming
from neurodeploy.backends.emulator import engine as emulator, events
from neurodeploy.backends.emulator.events import Events
from neurodeploy.backends.emulator.fixed_point import CubaParams, integrate
from tests import netx_factory
from tests.emulator_paths import device_path, event_path
from tests.random_nets import random_case


@pytest.mark.parametrize("bound, factors", [(100, (3072, 4000)), (1 << 18, (4095, 4096)), (1 << 31, (0, 4096))])
def test_kernel_equals_the_torch_loop_on_every_overflow_rule(bound, factors):
    """Small bounds take the kernel's branch-free loop; large ones the 24-bit wrap, the
    voltage clip and the int32 wraps; all must give the torch loop's spikes and voltages."""
    generator = torch.Generator().manual_seed(bound)
    drive = torch.randint(-bound, bound, (5, 9, 7), generator=generator).double()
    bias = torch.randint(-500, 500, (7,), generator=generator).double() * 64
    params = CubaParams(current_factor=factors[0], voltage_factor=factors[1], threshold=min(bound * 16, 1 << 22),
                        bias=bias, input_bound=bound)
    assert (params.int32_safe, params.current_never_wraps) == {100: (True, True), 1 << 18: (True, False),
                                                               1 << 31: (False, False)}[bound]
    resets = [step % 4 == 0 for step in range(9)]
    per_sample = torch.randint(-99, 99, (5, 1, 7), generator=generator).double() * 64
    for given in (None, per_sample):
        compiled = integrate(params, drive, resets, given, record=True)
        looped = integrate(params, drive, resets, given, record=True, kernel=False)
        assert torch.equal(compiled[0], looped[0]) and torch.equal(compiled[1], looped[1])
        assert compiled[0].any() and not compiled[0].all()


@pytest.mark.parametrize("encoding", ["temporal_bit", "ttfs", "rate_bit"])
def test_step_table_is_the_encoder(encoding):
    schedule = FrameSchedule(encoding=encoding, temporal_steps=6, n_bits=8, gap=2)
    images = np.random.default_rng(0).integers(0, 256, size=(4, 3, 5, 6), dtype=np.uint8)
    expected = encode(images, schedule, seed=2).movedim(-1, 1)
    for dtype in (torch.bool, torch.float32):
        got = encode_steps(images, schedule, seed=2, dtype=dtype)
        assert got.dtype == dtype and got.is_contiguous()
        assert torch.equal(got, expected.to(dtype))


def _dense_net(tmp_path):
    rng = np.random.default_rng(1)
    return netx_factory.write_netx(tmp_path / "net.net", [
        netx_factory.dense_layer(rng.integers(-80, 120, size=(12, 16)), netx_factory.cuba_neuron(vThMant=60)),
        netx_factory.dense_layer(rng.integers(-80, 120, size=(5, 12)), netx_factory.cuba_neuron(vThMant=40))])


def test_layers_are_built_once_per_network(tmp_path, monkeypatch):
    network = nd.load_network(_dense_net(tmp_path))
    spikes = nd.SpikeInput(np.random.default_rng(0).random((6, 10, 16)) < 0.3)
    calls = []
    real = emulator.build_layers
    monkeypatch.setattr(emulator, "build_layers", lambda *args: calls.append(args) or real(*args))
    first = emulator.emulate(network, spikes)
    again = emulator.emulate(network, spikes, batch_size=2)
    assert len(calls) == 1
    np.testing.assert_array_equal(first.output_counts, again.output_counts)
    assert first.output_counts.sum() > 0


def test_device_cpu_explicit_and_the_device_path_agree(tmp_path):
    path = netx_factory.conv_net(tmp_path / "conv.net")
    images = np.random.default_rng(3).integers(0, 256, size=(5, 2, 8, 10), dtype=np.uint8)
    default = emulator.emulate(path, images, FrameSchedule(gap=2), record=True)
    explicit = emulator.emulate(path, images, FrameSchedule(gap=2), record=True, device="cpu")
    with device_path():
        torch_path = emulator.emulate(path, images, FrameSchedule(gap=2), record=True, device=torch.device("cpu"))
    for other in (explicit, torch_path):
        np.testing.assert_array_equal(default.output_counts, other.output_counts)
        for name, trace in default.recording.items():
            np.testing.assert_array_equal(trace.spikes, other.recording[name].spikes)
            np.testing.assert_array_equal(trace.voltage, other.recording[name].voltage)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_a_gpu_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="--device 'cuda': no CUDA device is available"):
        emulator.emulate(_dense_net(tmp_path), nd.SpikeInput(np.zeros((1, 4, 16), bool)), device="cuda")
    with pytest.raises(ConfigError, match="expected cpu, cuda, cuda:N or auto"):
        resolve_device("tpu")
    assert resolve_device("auto").type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_is_bit_exact_with_the_cpu(tmp_path):
    path = netx_factory.conv_net(tmp_path / "conv.net")
    images = np.random.default_rng(4).integers(0, 256, size=(9, 2, 8, 10), dtype=np.uint8)
    cpu = emulator.emulate(path, images, FrameSchedule(gap=2), record=True)
    gpu = emulator.emulate(path, images, FrameSchedule(gap=2), record=True, device="cuda")
    np.testing.assert_array_equal(cpu.output_counts, gpu.output_counts)
    for name, trace in cpu.recording.items():
        np.testing.assert_array_equal(trace.spikes, gpu.recording[name].spikes)
        np.testing.assert_array_equal(trace.voltage, gpu.recording[name].voltage)


def test_thread_policy_reads_the_variable(monkeypatch):
    monkeypatch.delenv("NEURODEPLOY_THREADS", raising=False)
    assert thread_count() == 1
    monkeypatch.setenv("NEURODEPLOY_THREADS", "3")
    assert thread_count() == 3
    monkeypatch.setenv("NEURODEPLOY_THREADS", "many")
    with pytest.raises(ConfigError, match="NEURODEPLOY_THREADS='many'"):
        thread_count()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cli_device_errors_are_one_line(tmp_path):
    path = _dense_net(tmp_path)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((2, 6, 16)) < 0.3)
    base = [sys.executable, "-m", "neurodeploy.app.cli", "simulate", str(path), "--spikes", str(tmp_path / "x.npy")]
    for extra, message in ((["--backend", "emulator", "--device", "cuda"], "no CUDA device is available"),
                           (["--device", "cuda"], "Lava (Loihi2SimCfg, fixed_pt) runs on the CPU only; --backend emulator runs on a GPU too" if find_spec("lava")
                            else "pip install 'neurodeploy[lava]'")):
        done = subprocess.run(base + extra, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0] and "Traceback" not in done.stderr
    done = subprocess.run(base + ["--backend", "emulator", "--device", "cpu"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("seed", range(200, 230))
def test_event_path_equals_the_product_path(tmp_path, seed):
    """Forced on and off, the event loop and the matrix product + neuron loop give the same
    spikes and voltages in every layer: random dense and conv layers (padding, stride,
    24-bit wraps, saturation, clipped biases), images and spike inputs, frame resets and
    the timeline path."""
    case = random_case(tmp_path, seed, delay=False, recurrent=False)
    network = nd.load_network(case.path)
    shape = case.images.shape[1:] if network.layers[0].type == "conv" else (int(np.prod(case.images.shape[1:])),)
    spikes = nd.SpikeInput(np.random.default_rng(seed).random((4, 7, *shape)) < 0.4)
    runs = [dict(inputs=nd.ImageInput(case.images, case.schedule)), dict(inputs=spikes),
            dict(inputs=spikes, reset_interval=5)]
    for run in runs:
        results = []
        for on in (True, False):
            with event_path(on):
                results.append(emulator.emulate(network, record=True, batch_size=3, **run))
        on, off = results
        np.testing.assert_array_equal(on.output_counts, off.output_counts)
        assert on.spikes_per_layer == off.spikes_per_layer
        for name, trace in off.recording.items():
            np.testing.assert_array_equal(on.recording[name].spikes, trace.spikes, err_msg=name)
            np.testing.assert_array_equal(on.recording[name].voltage, trace.voltage, err_msg=name)


def test_events_of_images_are_the_encoded_spikes():
    """The event input read from intensities is the encoder's spike trains, 8 and 12 bits."""
    for n_bits, dtype in ((8, np.uint8), (12, np.uint16)):
        schedule = FrameSchedule(temporal_steps=5, n_bits=n_bits, gap=1)
        images = np.random.default_rng(n_bits).integers(0, 2 ** n_bits, size=(3, 2, 4, 5)).astype(dtype)
        found = Events.of_images(images, schedule)
        assert torch.equal(found.dense(), encode_steps(images, schedule))
        assert found.count == int(encode_steps(images, schedule).sum())


def test_the_event_choice_follows_density(tmp_path):
    """Sparse input runs on events, dense input on the product (the cost rule)."""
    layer = emulator.emulated_layers(nd.load_network(_dense_net(tmp_path)),
                                     nd.SpikeInput(np.zeros((1, 4, 16), dtype=bool)),
                                     NetworkTiming.of(nd.load_network(_dense_net(tmp_path)), 4))[0]
    steps = 100
    assert events.worth_it(layer, events=steps * 16 // 10, steps=steps)
    assert not events.worth_it(layer, events=steps * 16, steps=steps)


def test_event_conv_with_groups_dilation_and_uneven_stride(tmp_path):
    """The conv event routes against ``conv2d``: 2 groups, dilation 2, stride (1, 2) in
    torch order, padding 2, a per-channel bias."""
    rng = np.random.default_rng(8)
    conv = netx_factory.conv_layer(rng.integers(-40, 41, size=(6, 2, 3, 3)), (6, 0, 0), padding=2)
    height, width = 9, 8
    out_h, out_w = (height + 4 - 4 - 1) // 1 + 1, (width + 4 - 4 - 1) // 2 + 1
    conv.update(shape=np.array([6, out_h, out_w]), stride=np.array([1, 2]), dilation=np.array([2, 2]), groups=2,
                inChannels=4, bias=rng.integers(-20, 21, size=6))
    path = netx_factory.write_netx(tmp_path / "grouped.net", [
        conv, {"type": "flatten", "shape": np.array([6 * out_h * out_w, 1, 1])},
        netx_factory.dense_layer(rng.integers(-30, 31, size=(5, 6 * out_h * out_w)))])
    spikes = nd.SpikeInput(rng.random((3, 6, 4, height, width)) < 0.3)
    results = []
    for on in (True, False):
        with event_path(on):
            results.append(emulator.emulate(nd.load_network(path), spikes, record=True))
    for name, trace in results[1].recording.items():
        np.testing.assert_array_equal(results[0].recording[name].spikes, trace.spikes, err_msg=name)
        np.testing.assert_array_equal(results[0].recording[name].voltage, trace.voltage, err_msg=name)
    assert results[1].recording["conv0"].spikes.any()


def test_a_torch_without_its_conv_backend_query_falls_back_to_the_exact_unfold(monkeypatch):
    """``_direct`` asks torch's private ``_select_conv_backend``; without it the layer takes
    the unfold + matrix product path (exact by construction) instead of failing."""
    import torch

    from neurodeploy.backends.emulator.layers import ConvSynapse

    synapse = ConvSynapse(torch.ones((2, 1, 3, 3), dtype=torch.float32), 1, (3, 3), (1, 1), (0, 0), (1, 1),
                          (2, 4, 4), 9)
    spikes = torch.rand((3, 1, 6, 6), generator=torch.Generator().manual_seed(0)) < 0.5
    expected = synapse(spikes)
    monkeypatch.delattr(torch._C, "_select_conv_backend")
    assert synapse._direct(spikes.to(torch.float32)) is False
    assert torch.equal(synapse(spikes), expected)
