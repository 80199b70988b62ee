"""Online DA-SSDP after offline training: torch, Lava floating point and Lava fixed point.

Per seed:

1. Offline: a SLAYER CUBA 64-128-10 network on scikit-learn's digits (hybrid temporal-bit
   code, 18 steps a sample) trains for ``--epochs`` with DA-SSDP on the classifier
   ``dense1``; the first epoch is the rule's warm-up, which fits its dopamine gate.
2. Online: the classifier keeps learning by DA-SSDP alone (no labels, no backprop, the
   gate fitted in training) on a stream of ``--stream`` training samples, in online steps
   of ``--online-batch`` windows (a window is one sample's frame, as in training):
   - torch: the training plug-in, one ``after_step`` per online step;
   - Lava: the hidden layer's spikes (from torch) drive a ``DassdpDense`` into a LIF
     layer (the classifier's parameters as netx maps them) whose spikes come back on
     ``s_in_bap``, once with ``floating_pt`` and once with ``fixed_pt``. One Lava run per
     precision streams the test set (learning off: dopamine 0), the stream (learning
     on), then the test set again. Before learning, fixed_pt's classifier spikes as
     SLAYER's does, so torch and fixed_pt start from the same accuracy.
3. Test accuracy before and after the stream in each, and the paired difference (after -
   before) over seeds with its 95 % Student-t interval.

Checks (exit 1 if one fails): Lava ``floating_pt`` moves the weights as the torch rule
replayed on its own spikes does (to 1e-6); ``fixed_pt`` moves some weight, its summed
change is the torch rule's on its own spikes within the rounding's stated tolerance
(``DassdpRule.total_tolerance``), and its per-synapse change correlates positively with
``floating_pt``'s.

Run: ``.venv/bin/python examples/dassdp_online.py`` (3 seeds, 320-sample stream, the 360
test samples: about 20 minutes on two busy cores, each seed two Lava runs of 19,584
steps); ``--seeds 1 --stream 64 --test 64`` for a quick look (about a minute).
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.process import LIFReset

from neurodeploy.app.compare import t_interval
from neurodeploy.core.config import DassdpConfig, DataConfig, NeuronConfig
from neurodeploy.core.data import load_split
from neurodeploy.core.encoding import FrameSchedule, encode
from neurodeploy.training.lavadl import slayer
from neurodeploy.training.dassdp import DASSDP, Gate, online_updates, plasticity_table
from neurodeploy.training.fused_cuba import use_dynamics
from neurodeploy.backends.lavasim.procs.dassdp import DassdpDense, DassdpRule

SCHEDULE = FrameSchedule(encoding="temporal_bit", temporal_steps=8, n_bits=8, gap=2)
FRAME = SCHEDULE.frame_steps
PLASTIC = "dense1"
NEURON = NeuronConfig().dump()  # lava-dl CUBA parameters, as the project trains them
DECAY_SCALE = 4096  # Loihi's 12-bit decay constants
PRECISIONS = ("floating_pt", "fixed_pt")


def train(epochs: int, dassdp: DassdpConfig, seed: int):
    """A few epochs of surrogate-gradient training with DA-SSDP riding on each step."""
    torch.manual_seed(seed)
    split = load_split(DataConfig(dataset="digits"), seed)
    blocks = torch.nn.ModuleDict({"dense0": slayer.block.cuba.Dense(NEURON, 64, 128),
                                  PLASTIC: slayer.block.cuba.Dense(NEURON, 128, 10)})
    use_dynamics(blocks)  # SLAYER's arithmetic, compiled (the same bits)
    plugin = DASSDP(dassdp, blocks, epochs=epochs, frame_steps=FRAME)
    optimizer = torch.optim.Adam(blocks.parameters(), lr=1e-3)
    loss_fn = slayer.loss.SpikeRate(true_rate=0.2, false_rate=0.03, reduction="none")
    for epoch in range(epochs):
        order = np.random.default_rng(seed + epoch).permutation(len(split.train))
        for start in range(0, len(order), 32):
            index = order[start:start + 32]
            hidden = blocks["dense0"](encode(split.train.images[index], SCHEDULE).flatten(1, -2))
            output = blocks[PLASTIC](hidden)
            loss = loss_fn(output, torch.as_tensor(split.train.labels[index])).reshape(len(index), -1).sum(1)
            optimizer.zero_grad()
            loss.sum().backward()
            optimizer.step()
            plugin.observe(PLASTIC, hidden.detach(), output.detach())
            plugin.after_step(epoch, loss.detach())
    return blocks, plugin, split


def hidden_spikes(blocks: torch.nn.ModuleDict, images: np.ndarray) -> torch.Tensor:
    """The hidden layer's spikes ``(N, 128, FRAME)``: the plastic classifier's input.

    The frame's last step is silenced: in torch its effect on the classifier falls outside
    the frame (the block's one-step delay_shift drops it), while on Lava it would drive the
    next sample's first step. Without it, Lava's classifier spikes as SLAYER's does."""
    with torch.no_grad():
        hidden = blocks["dense0"](encode(images, SCHEDULE).flatten(1, -2))
    hidden[..., -1] = 0
    return hidden


def torch_online(blocks: torch.nn.ModuleDict, plugin: DASSDP, dassdp: DassdpConfig,
                 stream: torch.Tensor, batch: int) -> torch.nn.ModuleDict:
    """A copy of the network whose classifier learned on ``stream`` by the training plug-in."""
    learned = copy.deepcopy(blocks)
    online = DASSDP(dassdp, learned, epochs=dassdp.warmup_epochs + 1, frame_steps=FRAME)
    online.load_state_dict(plugin.state_dict())  # the gate fitted in training
    with torch.no_grad():
        for start in range(0, len(stream), batch):
            hidden = stream[start:start + batch]
            online.observe(PLASTIC, hidden, learned[PLASTIC](hidden))
            online.after_step(dassdp.warmup_epochs, torch.zeros(len(hidden)))
    return learned


def lava_weights(block: torch.nn.Module) -> np.ndarray:
    """The block's quantised weights in Lava's integer units, as netx exports them."""
    weights = block.synapse.pre_hook_fx(block.synapse.weight, descale=True).detach()
    return weights.reshape(weights.shape[0], -1).numpy().astype(np.int32)


def torch_accuracy(blocks: torch.nn.ModuleDict, test: torch.Tensor, labels: np.ndarray) -> float:
    with torch.no_grad():
        return float(np.mean(blocks[PLASTIC](test).sum(-1).argmax(-1).numpy() == labels))


def back_to_back(spikes: torch.Tensor, samples: int) -> np.ndarray:
    """``(N, C, FRAME)`` -> ``(C, samples * FRAME)``, silent frames after the N samples."""
    trains = np.zeros((spikes.shape[1], samples * FRAME))
    trains[:, :len(spikes) * FRAME] = spikes.permute(1, 0, 2).reshape(spikes.shape[1], -1).numpy()
    return trains


@dataclass
class LavaRun:
    accuracy_before: float
    accuracy_after: float
    weight_change: np.ndarray   # after the stream - before, weight units
    rule_change: np.ndarray     # the torch rule on this run's own spikes, per online step
    rule: DassdpRule


def lava_online(tag: str, classifier: torch.nn.Module, test: torch.Tensor, labels: np.ndarray,
                stream: torch.Tensor, rule: DassdpRule, gate: Gate) -> LavaRun:
    """Test set (learning off), stream (learning on), test set, in one Lava run.

    The classifier's weights, threshold and decays go to Lava as netx maps them (integer
    weights, ``vth = threshold * w_scale``, ``du = iDecay - 1``, ``dv = vDecay``; divided by
    4096 for floating point); its state is reset at the first step of each frame."""
    neuron, weights = classifier.neuron, lava_weights(classifier)
    du, dv = int(neuron.cx_current_decay) - 1, int(neuron.cx_voltage_decay)
    if tag == "floating_pt":
        du, dv = du / DECAY_SCALE, dv / DECAY_SCALE
    padded = -(-len(test) // rule.batch) * rule.batch  # whole online steps: no step spans two phases
    phases = [back_to_back(test, padded), back_to_back(stream, len(stream)), back_to_back(test, padded)]
    pre = np.concatenate(phases, axis=1)
    source, sink = Source(data=pre), Sink(shape=(len(weights),), buffer=pre.shape[1])
    connection = DassdpDense(weights=weights.copy(), learning_rule=rule, gate=replace(gate, dopamine=0.0))
    lif = LIFReset(shape=(len(weights),), du=du, dv=dv, vth=neuron.v_th_mant,
                   reset_interval=FRAME, reset_offset=1)
    source.s_out.connect(connection.s_in)
    connection.a_out.connect(lif.a_in)
    lif.s_out.connect(connection.s_in_bap)
    lif.s_out.connect(sink.a_in)
    config = Loihi2SimCfg(select_tag=tag)
    try:
        connection.run(condition=RunSteps(num_steps=phases[0].shape[1]), run_cfg=config)
        before = connection.weights.get()
        connection.dopamine.set(np.array([gate.dopamine]))
        connection.run(condition=RunSteps(num_steps=phases[1].shape[1]), run_cfg=config)
        after = connection.weights.get()
        connection.dopamine.set(np.array([0.0]))
        connection.run(condition=RunSteps(num_steps=phases[2].shape[1]), run_cfg=config)
        post = sink.data.get()
    finally:
        connection.stop()
    counts = post.reshape(len(weights), -1, FRAME).sum(-1)  # (10, frames)
    first, last = np.arange(len(test)), len(stream) + padded + np.arange(len(test))
    stream_steps = slice(phases[0].shape[1], phases[0].shape[1] + phases[1].shape[1])
    table = plasticity_table(rule.t_epoch, rule.sigma, rule.A_plus, rule.A_base,
                             co_silent=rule.co_silent, dtype=torch.float64)
    replay = online_updates(torch.tensor(pre[:, stream_steps]), torch.tensor(post[:, stream_steps]),
                            rule.t_epoch, gate, table, rule.batch) * rule.weight_scale
    return LavaRun(float(np.mean(counts[:, first].argmax(0) == labels)),
                   float(np.mean(counts[:, last].argmax(0) == labels)),
                   after - before, replay.numpy(), rule)


def checks(runs: dict[str, LavaRun]) -> dict[str, dict]:
    """The example's claims, each with the numbers it rests on and whether it holds."""
    float_run, fixed_run = runs["floating_pt"], runs["fixed_pt"]
    fixed_change, expected = fixed_run.weight_change, fixed_run.rule_change
    tolerance = fixed_run.rule.total_tolerance(expected)
    correlation = float(np.corrcoef(fixed_change.ravel(), float_run.weight_change.ravel())[0, 1])
    float_error = float(np.abs(float_run.weight_change - float_run.rule_change.sum(0)).max())
    return {
        "floating_pt_equals_torch_rule": {"max_abs_difference": float_error, "holds": bool(float_error <= 1e-6)},
        "fixed_pt_moves_weights": {"synapses_moved": int(np.count_nonzero(fixed_change)),
                                   "max_abs_change": float(np.abs(fixed_change).max()),
                                   "holds": bool(np.count_nonzero(fixed_change))},
        "fixed_pt_total_is_torch_rule_total": {
            "fixed_total": float(fixed_change.sum()), "torch_rule_total": float(expected.sum()),
            "tolerance": tolerance, "holds": bool(abs(fixed_change.sum() - expected.sum()) <= tolerance)},
        "fixed_pt_direction_matches_floating_pt": {"correlation": correlation, "holds": bool(correlation > 0)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="offline training epochs (1 is warm-up)")
    parser.add_argument("--stream", type=int, default=320, help="training samples streamed online")
    parser.add_argument("--test", type=int, default=360, help="test samples (digits has 360)")
    parser.add_argument("--online-batch", type=int, default=32, help="windows per online step")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.stream % args.online_batch or args.stream < args.online_batch:
        parser.error(f"--stream={args.stream} must be a positive multiple of "
                     f"--online-batch={args.online_batch} (whole online steps)")
    began = time.perf_counter()
    dassdp = DassdpConfig(enabled=True, layers=[PLASTIC], warmup_epochs=1, online_batch=args.online_batch)
    results = []
    for seed in range(args.seeds):
        blocks, plugin, split = train(args.epochs, dassdp, seed)
        gate = plugin.gates[PLASTIC]
        order = np.random.default_rng(1000 + seed).permutation(len(split.train))[:args.stream]
        stream = hidden_spikes(blocks, split.train.images[order])
        test, labels = hidden_spikes(blocks, split.test.images[:args.test]), split.test.labels[:args.test]
        learned = torch_online(blocks, plugin, dassdp, stream, args.online_batch)
        classifier = blocks[PLASTIC]
        w_scale = classifier.neuron.w_scale
        torch_change = (learned[PLASTIC].synapse.weight - classifier.synapse.weight).detach() * w_scale
        result = {"seed": seed, "gate": gate.to_dict(), "torch": {
            "accuracy_before": torch_accuracy(blocks, test, labels),
            "accuracy_after": torch_accuracy(learned, test, labels),
            "max_abs_weight_change": float(torch_change.abs().max()),
            "quantised_weights_changed": int((lava_weights(learned[PLASTIC]) != lava_weights(classifier)).sum())}}
        runs = {}
        for tag in PRECISIONS:
            rule = DassdpRule.from_config(dassdp, frame_steps=FRAME, weight_scale=w_scale, rng_seed=seed)
            runs[tag] = lava_online(tag, classifier, test, labels, stream, rule, gate)
            result[tag] = {"accuracy_before": runs[tag].accuracy_before,
                           "accuracy_after": runs[tag].accuracy_after,
                           "max_abs_weight_change": float(np.abs(runs[tag].weight_change).max()),
                           "weights_changed": int(np.count_nonzero(runs[tag].weight_change))}
        result["checks"] = checks(runs)
        results.append(result)
        print(json.dumps(result))
    summary = {run: t_interval([100 * (r[run]["accuracy_after"] - r[run]["accuracy_before"]) for r in results])
               for run in ("torch", *PRECISIONS)}
    sizes = (f"{args.seeds} seeds, {args.epochs} offline epochs, {args.stream}-sample stream in online "
             f"steps of {args.online_batch}, {args.test} test samples")
    print(f"\nDA-SSDP online on the digits classifier ({sizes}; {time.perf_counter() - began:.0f} s)\n")
    print("| run | accuracy before (%) | after (%) | after - before, points (95 % CI) | max abs dW (weight units) |")
    print("| --- | --- | --- | --- | --- |")
    for run, interval in summary.items():
        before = 100 * np.mean([r[run]["accuracy_before"] for r in results])
        after = 100 * np.mean([r[run]["accuracy_after"] for r in results])
        ci = "n/a" if interval["low"] is None else f"[{interval['low']:+.2f}, {interval['high']:+.2f}]"
        change = max(r[run]["max_abs_weight_change"] for r in results)
        print(f"| {run} | {before:.2f} | {after:.2f} | {interval['mean']:+.2f} {ci} | {change:.2f} |")
    failed = [f"seed {r['seed']}: {name}" for r in results for name, check in r["checks"].items()
              if not check["holds"]]
    if args.json:
        from neurodeploy.core.atomic import write_json
        write_json(args.json, {"sizes": sizes, "seeds": results, "accuracy_change_points": summary})
    print("\nchecks: " + ("all hold" if not failed else "FAILED " + "; ".join(failed)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
