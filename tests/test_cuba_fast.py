"""The fused CUBA neuron gives SLAYER's bits: spikes, gradients, losses and trained weights.

Every comparison is ``torch.equal`` (no tolerance): a twin of each model runs lava-dl's
own dynamics, the other the fused ones, from the same weights and inputs. The ``torch``
path (what a GPU runs) is checked here on the CPU.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.lava

NEURON = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03, "tau_grad": 0.03, "scale_grad": 3.0}
PATHS = ("fused", "torch")


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _twins(model: torch.nn.Module, path: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(lava-dl's dynamics, fused dynamics) copies of ``model``."""
    from neurodeploy.training.fused_cuba import use_dynamics

    slayer_model, fused_model = copy.deepcopy(model), copy.deepcopy(model)
    assert use_dynamics(slayer_model, "slayer") == "slayer"
    assert use_dynamics(fused_model, path) == path
    return slayer_model, fused_model


def _assert_same(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, what
    differ = (a != b) & ~(torch.isnan(a) & torch.isnan(b))
    assert not differ.any(), f"{what}: {int(differ.sum())} of {a.numel()} values differ"


def _hard_drive(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Drives that probe the rounding: multiples of 1/4096 around the threshold, negative
    values, fractions of a state step, and magnitudes past float32's exact integers."""
    rng = np.random.default_rng(seed)
    near = rng.integers(5000, 5250, shape) / 4096.0
    fine = rng.normal(0, 2, shape)
    huge = rng.normal(0, 1e5, shape) * (rng.random(shape) < 0.05)
    pick = rng.integers(0, 3, shape)
    return torch.tensor(np.choose(pick, [near, fine, -near]) + huge, dtype=torch.float32)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("learn_decays, persistent", [(False, False), (True, False), (False, True)])
def test_neuron_forward_and_backward_are_slayers_bits(path, learn_decays, persistent):
    from neurodeploy.training.lavadl import slayer

    neuron = slayer.neuron.cuba.Neuron(**NEURON, requires_grad=learn_decays, persistent_state=persistent)
    reference, fused = _twins(neuron, path)
    for call in range(2):  # a persistent neuron starts the second call from the first's state
        drive = _hard_drive((6, 5, 3, 40), seed=call)
        outputs = []
        for model in (reference, fused):
            x = drive.clone().requires_grad_()
            spikes = model(x)
            (spikes * torch.linspace(-1, 2, 40)).sum().backward()
            outputs.append((spikes, x.grad, [p.grad for p in model.parameters()]))
        (spikes_a, grad_a, params_a), (spikes_b, grad_b, params_b) = outputs
        assert spikes_a.sum() > 0 and (spikes_a == 0).any()
        _assert_same(spikes_a, spikes_b, f"spikes, call {call}")
        _assert_same(grad_a, grad_b, f"input gradient, call {call}")
        for a, b in zip(params_a, params_b):
            assert (a is None) == (b is None) and (a is None) != learn_decays
            if a is not None:
                _assert_same(a, b, "decay gradient")
        if persistent:
            _assert_same(reference.current_state, fused.current_state, "current state")
            _assert_same(reference.voltage_state, fused.voltage_state, "voltage state")


def _dense(delay: bool = False) -> torch.nn.Module:
    from neurodeploy.training.lavadl import slayer

    torch.manual_seed(1)
    return torch.nn.Sequential(slayer.block.cuba.Dense(dict(NEURON), 48, 40, weight_scale=2, delay=delay),
                               slayer.block.cuba.Dense(dict(NEURON), 40, 10, weight_scale=2, delay=delay))


def _recurrent() -> torch.nn.Module:
    from neurodeploy.training.lavadl import slayer

    torch.manual_seed(2)
    return torch.nn.Sequential(slayer.block.cuba.Recurrent(dict(NEURON), 48, 24, weight_scale=2),
                               slayer.block.cuba.Dense(dict(NEURON), 24, 10, weight_scale=2))


def _network(conv: bool) -> torch.nn.Module:
    from neurodeploy.core.config import ConvLayerConfig, ModelConfig
    from neurodeploy.training.network import SpikingNetwork

    torch.manual_seed(4)
    model = ModelConfig(conv=[ConvLayerConfig(channels=4), ConvLayerConfig(channels=6)] if conv else [],
                        hidden=[24])
    return SpikingNetwork(model, (1, 10, 10) if conv else (1, 6, 8), 10, dynamics="slayer")


MODELS = {"dense": lambda: _network(conv=False), "conv": lambda: _network(conv=True),
          "axonal_delays": lambda: _dense(delay=True), "recurrent": _recurrent}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_training_steps_give_slayers_weights(kind, path):
    from neurodeploy.training.lavadl import slayer

    model = MODELS[kind]()
    shape = {"dense": (8, 1, 6, 8, 16), "conv": (8, 1, 10, 10, 24)}.get(kind, (8, 48, 16))
    with torch.no_grad():
        model(torch.zeros(shape))  # lava-dl draws the axonal delays at the first call
    reference, fused = _twins(model, path)
    loss = slayer.loss.SpikeRate(true_rate=0.5, false_rate=0.05, reduction="sum")
    optimizers = [torch.optim.Adam(model.parameters(), lr=0.01) for model in (reference, fused)]
    generator = torch.Generator().manual_seed(4)
    for step in range(3):
        spikes = (torch.rand(shape, generator=generator) < 0.4).float()
        labels = torch.randint(0, 10, (8,), generator=generator)
        results = []
        for model, optimizer in zip((reference, fused), optimizers):
            output = model(spikes)
            output = output.output if hasattr(output, "output") else output
            value = loss(output, labels)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            results.append((output, value))
        (out_a, loss_a), (out_b, loss_b) = results
        assert out_a.sum() > 0
        _assert_same(out_a, out_b, f"{kind} output spikes, step {step}")
        _assert_same(loss_a, loss_b, f"{kind} loss, step {step}")
        for (name, a), b in zip(reference.named_parameters(), fused.parameters()):
            _assert_same(a, b, f"{kind} {name} after step {step}")


def test_an_epoch_with_dassdp_and_the_evaluation_match(tmp_path):
    """train() with DA-SSDP past its warm-up, then evaluate(): the same history, weights,
    plug-in state and output spikes with either dynamics."""
    from neurodeploy.core.config import parse_config
    from neurodeploy.core.data import load_split
    from neurodeploy.training.dassdp import DASSDP
    from neurodeploy.training.network import SpikingNetwork
    from neurodeploy.training.train import evaluate, train

    config = parse_config({"seed": 0, "data": {"dataset": "digits", "limit": 96}, "model": {"hidden": [24]},
                           "train": {"epochs": 2, "batch_size": 32, "device": "cpu"},
                           "dassdp": {"enabled": True, "layers": ["dense0", "dense1"], "warmup_epochs": 1}})
    split = load_split(config.data, config.seed)
    runs = {}
    for dynamics in ("slayer", "fused"):
        torch.manual_seed(config.seed)
        network = SpikingNetwork(config.model, split.input_shape, split.num_classes, dynamics=dynamics)
        assert network.dynamics == dynamics
        schedule = config.encoding.schedule(hops=network.hops)
        plugin = DASSDP(config.dassdp, network.named_synapses(), epochs=config.train.epochs,
                        frame_steps=schedule.frame_steps)
        (tmp_path / dynamics).mkdir()
        result = train(network, split.train, split.test, schedule, config, tmp_path / dynamics, plugin)
        runs[dynamics] = (result, network, plugin, evaluate(network, split.test, schedule, 16, config.seed))
    (result_a, net_a, plugin_a, eval_a), (result_b, net_b, plugin_b, eval_b) = runs.values()
    assert [row["train_loss"] for row in result_a.history] == [row["train_loss"] for row in result_b.history]
    assert [row["test_accuracy"] for row in result_a.history] == [row["test_accuracy"] for row in result_b.history]
    for (name, a), b in zip(net_a.state_dict().items(), net_b.state_dict().values()):
        _assert_same(a, b, name)
    assert np.array_equal(eval_a.output_steps, eval_b.output_steps) and eval_a.output_steps.any()
    assert eval_a.spikes_per_layer == eval_b.spikes_per_layer
    assert repr(plugin_a.state_dict()) == repr(plugin_b.state_dict())


def test_install_and_remove_keep_the_blocks_and_their_state_dict():
    from neurodeploy.training.lavadl import slayer
    from neurodeploy.training.fused_cuba import FusedCubaNeuron, dynamics_of, use_dynamics

    model = _dense()
    keys = list(model.state_dict())
    assert use_dynamics(model, "fused") == "fused" and dynamics_of(model) == "fused"
    assert all(type(block.neuron) is FusedCubaNeuron and block.neuron.output_shift == 1
               and block.delay_shift is False for block in model)
    assert list(model.state_dict()) == keys
    assert use_dynamics(model, "slayer") == "slayer" and dynamics_of(model) == "slayer"
    assert all(type(block.neuron) is slayer.neuron.cuba.Neuron and block.delay_shift is True
               and "output_shift" not in vars(block.neuron) for block in model)


def test_unsupported_neurons_keep_lavas_dynamics():
    from neurodeploy.training.lavadl import slayer
    from neurodeploy.training.fused_cuba import use_dynamics

    torch.manual_seed(5)
    graded = slayer.block.cuba.Dense({**NEURON, "graded_spike": True}, 12, 6)
    per_channel = slayer.block.cuba.Dense({**NEURON, "shared_param": False}, 12, 6)
    model = torch.nn.Sequential(graded, per_channel)
    use_dynamics(model, "fused")
    assert type(graded.neuron) is slayer.neuron.cuba.Neuron and graded.delay_shift is True
    assert type(per_channel.neuron) is slayer.neuron.cuba.Neuron and per_channel.delay_shift is True


def test_a_double_input_falls_back_and_still_shifts():
    from neurodeploy.training.fused_cuba import use_dynamics

    reference, fused = _twins(_dense().double(), "fused")
    assert fused[0].delay_shift is False  # the neuron shifts: its fallback must shift too
    spikes = (torch.rand(4, 48, 10, generator=torch.Generator().manual_seed(6)) < 0.5).double()
    _assert_same(reference(spikes), fused(spikes), "float64 output")
    use_dynamics(fused, "slayer")


def test_the_environment_variable_chooses(monkeypatch):
    from neurodeploy.core.errors import ConfigError
    from neurodeploy.core.runtime import DYNAMICS_VARIABLE, chosen_dynamics

    monkeypatch.delenv(DYNAMICS_VARIABLE, raising=False)
    assert chosen_dynamics() == "fused"
    monkeypatch.setenv(DYNAMICS_VARIABLE, "slayer")
    assert chosen_dynamics() == "slayer"
    from neurodeploy.core.config import ModelConfig
    from neurodeploy.training.network import SpikingNetwork

    assert SpikingNetwork(ModelConfig(hidden=[4]), (1, 2, 2), 3).dynamics == "slayer"
    monkeypatch.setenv(DYNAMICS_VARIABLE, "cuda")
    with pytest.raises(ConfigError, match=r"NEURODEPLOY_DYNAMICS='cuda': expected one of fused, torch, slayer"):
        chosen_dynamics()


CPP_EXTENSION_ON_DEMAND = """
import importlib, sys
from neurodeploy.training.lavadl import slayer
leaky_integrator = importlib.import_module("lava.lib.dl.slayer.neuron.dynamics.leaky_integrator")
shift = importlib.import_module("lava.lib.dl.slayer.utils.time.shift")
print("imported after lava-dl:", "torch.utils.cpp_extension" in sys.modules)
import torch.utils.cpp_extension as real
print("real module:", hasattr(real, "CUDAExtension") and type(real).__name__ == "module")
real.load = lambda *args, **kwargs: ("built", args, kwargs)
print("forwarded:", leaky_integrator.load(name="dynamics") == ("built", (), {"name": "dynamics"}),
      shift.load("x") == ("built", ("x",), {}))
"""


def test_lava_dl_imports_the_cuda_extension_builder_only_when_it_builds():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CPP_EXTENSION_ON_DEMAND], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["imported after lava-dl: False", "real module: True",
                                           "forwarded: True True"]
