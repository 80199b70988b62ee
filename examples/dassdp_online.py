"""Offline training with DA-SSDP, then the classifier keeps learning on Lava.

1. Trains a SLAYER CUBA 64-128-10 network on scikit-learn's digits (hybrid temporal-bit
   code, 18 steps a sample) for a few epochs, with DA-SSDP on the classifier ``dense1``:
   warm-up records synchrony and loss, then the fitted gate drives the local update.
2. Moves the classifier to Lava: the hidden layer's spikes (from torch) drive a
   ``DassdpDense`` connection into a LIF layer whose spikes come back on ``s_in_bap``;
   the connection carries the fitted gate and learns once per learning epoch.
3. Replays the torch rule on the spikes Lava recorded and prints how far Lava's weight
   change is from it: within 1e-6 for ``floating_pt``; for ``fixed_pt``, each epoch within
   the stated quantisation bound (stochastic rounding is unbiased, so the sum drifts
   roughly like sqrt(epochs) times that).

Run: ``.venv/bin/python examples/dassdp_online.py`` (about a minute on two cores).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.process import LIFReset

from neurodeploy.config import DassdpConfig, DataConfig, NeuronConfig
from neurodeploy.data import load_split
from neurodeploy.encoding import FrameSchedule, encode
from neurodeploy.lavadl import slayer
from neurodeploy.learning.dassdp import DASSDP, Gate, epoch_updates, plasticity_table
from neurodeploy.procs.dassdp import DassdpDense, DassdpRule

SCHEDULE = FrameSchedule(encoding="temporal_bit", temporal_steps=8, n_bits=8, gap=2)
PLASTIC = "dense1"
DECAY_SCALE = 4096  # Loihi's 12-bit decay constants
NEURON = NeuronConfig().model_dump()  # lava-dl CUBA parameters, as the project trains them


def train(epochs: int, dassdp: DassdpConfig, seed: int):
    """A few epochs of surrogate-gradient training with DA-SSDP riding on each step."""
    torch.manual_seed(seed)
    split = load_split(DataConfig(dataset="digits"), seed)
    blocks = torch.nn.ModuleDict({"dense0": slayer.block.cuba.Dense(NEURON, 64, 128),
                                  PLASTIC: slayer.block.cuba.Dense(NEURON, 128, 10)})
    plugin = DASSDP(dassdp, blocks, epochs=epochs, frame_steps=SCHEDULE.frame_steps)
    optimizer = torch.optim.Adam(blocks.parameters(), lr=1e-3)
    loss_fn = slayer.loss.SpikeRate(true_rate=0.2, false_rate=0.03, reduction="none")
    for epoch in range(epochs):
        order = np.random.default_rng(seed + epoch).permutation(len(split.train))
        for start in range(0, len(order), 32):
            index = order[start:start + 32]
            spikes = encode(split.train.images[index], SCHEDULE).flatten(1, -2)
            hidden = blocks["dense0"](spikes)
            output = blocks[PLASTIC](hidden)
            labels = torch.as_tensor(split.train.labels[index])
            loss = loss_fn(output, labels).reshape(len(index), -1).sum(1)
            optimizer.zero_grad()
            loss.sum().backward()
            optimizer.step()
            plugin.observe(PLASTIC, hidden.detach(), output.detach())
            plugin.after_step(epoch, loss.detach())
        with torch.no_grad():
            test = encode(split.test.images, SCHEDULE).flatten(1, -2)
            predicted = blocks[PLASTIC](blocks["dense0"](test)).sum(-1).argmax(-1).numpy()
        print(f"epoch {epoch + 1}: test accuracy {np.mean(predicted == split.test.labels):.3f}"
              f"{' (warm-up)' if epoch < dassdp.warmup_epochs else ''}")
    return blocks, plugin.gates[PLASTIC], split


def run_on_lava(tag: str, pre: np.ndarray, weights: np.ndarray, rule: DassdpRule, gate: Gate,
                w_scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Run the plastic classifier on Lava; returns its final weights and its output spikes."""
    steps = pre.shape[1]
    decay = (lambda value: int(value * DECAY_SCALE)) if tag == "fixed_pt" else float
    source, sink = Source(data=pre), Sink(shape=(weights.shape[0],), buffer=steps)
    connection = DassdpDense(weights=weights, learning_rule=rule, gate=gate)
    lif = LIFReset(shape=(weights.shape[0],), du=decay(NEURON["current_decay"]),
                   dv=decay(NEURON["voltage_decay"]), vth=int(NEURON["threshold"] * w_scale),
                   reset_interval=SCHEDULE.frame_steps, reset_offset=1)
    source.s_out.connect(connection.s_in)
    connection.a_out.connect(lif.a_in)
    lif.s_out.connect(connection.s_in_bap)
    lif.s_out.connect(sink.a_in)
    try:
        connection.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag=tag))
        return connection.weights.get(), sink.data.get()
    finally:
        connection.stop()


def torch_weight_change(pre: np.ndarray, post: np.ndarray, rule: DassdpRule,
                        gate: Gate) -> tuple[np.ndarray, int]:
    """The torch rule on Lava's spikes, epoch by epoch, summed, in Lava's weight units.

    Same settings as the Lava process: the rule's co-silent choice and its online batch.
    """
    table = plasticity_table(rule.t_epoch, rule.sigma, rule.A_plus, rule.A_base,
                             co_silent=rule.co_silent, dtype=torch.float64)
    updates = epoch_updates(torch.tensor(pre), torch.tensor(post), rule.t_epoch, gate, table,
                            rule.batch)
    return (updates.sum(0) * rule.weight_scale).numpy(), len(updates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=40, help="test samples streamed on Lava")
    parser.add_argument("--t-epoch", type=int, default=None,
                        help="learning epoch in steps; default the frame")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    began = time.perf_counter()
    dassdp = DassdpConfig(enabled=True, layers=[PLASTIC], warmup_epochs=1, t_epoch=args.t_epoch)
    blocks, gate, split = train(args.epochs, dassdp, args.seed)
    print(f"fitted gate of {PLASTIC}: {gate}")

    classifier = blocks[PLASTIC]
    w_scale = classifier.neuron.w_scale
    images = split.test.images[:args.samples]
    with torch.no_grad():
        hidden = blocks["dense0"](encode(images, SCHEDULE).flatten(1, -2))
    pre = hidden.permute(1, 0, 2).reshape(hidden.shape[1], -1).numpy()  # samples back to back
    weights = classifier.synapse.pre_hook_fx(classifier.synapse.weight, descale=True)
    weights = weights.detach().reshape(10, -1).numpy().astype(np.int32)
    print(f"Lava: {args.samples} samples, {pre.shape[1]} steps, weights in units of 1/{w_scale}")
    for tag in ("floating_pt", "fixed_pt"):
        rule = DassdpRule.from_config(dassdp, frame_steps=SCHEDULE.frame_steps,
                                      weight_scale=w_scale, rng_seed=args.seed)
        final, post = run_on_lava(tag, pre, weights.copy(), rule, gate, w_scale)
        expected, epochs = torch_weight_change(pre, post, rule, gate)
        difference = final - weights - expected
        if tag == "floating_pt":
            verdict = "target <= 1e-6"
        else:
            bound = rule.quantisation_bound(2 * abs(gate.dopamine))
            verdict = (f"bound {bound:.3f} per epoch, {epochs * bound:.1f} over {epochs}; "
                       f"mean signed difference {difference.mean():+.3f}: rounding is unbiased")
        print(f"{tag}: {int(post.sum())} output spikes, {epochs} learning epochs, "
              f"max |dW_lava| = {np.abs(final - weights).max():.3f} weight units, "
              f"max |dW_lava - dW_torch| = {np.abs(difference).max():.3g} ({verdict})")
    print(f"done in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
