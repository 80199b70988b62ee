"""DA-SSDP's per-step loops compiled for the CPU: first-spike latencies, synchrony, the batch update.

In torch, the latency scan is five passes over the spike tensor (a comparison, a cast, a
product, a reduction over the short time axis, a subtraction) and the update one dense
product with the one-hot post latencies, ``window + 1`` times more multiply-adds than
pairs; together they were most of the rule's cost in a training step. Here each is one
loop: the scan is a branch-free minimum per neuron, and the update gathers the table's rows
for one side of the layer and adds, per sample, one row to each neuron of the other side
(``N * Cout * Cin`` additions in contiguous runs). The arithmetic is the rule's
(:func:`neurodeploy.training.dassdp.weight_update`); only the summation order differs from
torch's product, by float rounding. numba caches the compiled code on disk (``cache=True``),
in the user's cache folder.
"""
from __future__ import annotations

from neurodeploy.core.runtime import use_user_numba_cache

use_user_numba_cache()  # before numba compiles or loads anything: the user's cache, not the package's folder

import numba  # noqa: E402
import numpy as np  # noqa: E402

from neurodeploy.training.dassdp_gate import gate_value  # noqa: E402

_gate_value = numba.njit(cache=True, nogil=True)(gate_value)


@numba.njit(cache=True, nogil=True)
def first_spike_latency(spikes: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Step of the first nonzero entry along the last axis of ``spikes (N, C, T)``, any
    strides; ``T`` where there is none.

    A branch-free minimum over the window: windows are short and first spikes random, so
    this vectorises and beats stopping at the first spike (a mispredicted branch a neuron)."""
    samples, neurons, window = spikes.shape
    latency = np.empty((samples, neurons), dtype=np.int64)
    for b in range(samples):
        for n in range(neurons):
            first = window
            for step in range(window):
                first = min(first, step if spikes[b, n, step] != 0 else window)
            latency[b, n] = first
    return latency


@numba.njit(cache=True, nogil=True)
def synchrony(t_pre: np.ndarray, t_post: np.ndarray, window: int) -> np.ndarray:  # pragma: no cover - compiled
    """Batch synchrony from latencies: the fraction of pre times the fraction of post
    neurons that spiked (latency < window), per sample, in float64."""
    samples, cin = t_pre.shape
    cout = t_post.shape[1]
    result = np.empty(samples, dtype=np.float64)
    for b in range(samples):
        fired_pre = 0
        for i in range(cin):
            fired_pre += t_pre[b, i] < window
        fired_post = 0
        for o in range(cout):
            fired_post += t_post[b, o] < window
        result[b] = (fired_post / cout) * (fired_pre / cin)
    return result


@numba.njit(cache=True, nogil=True)
def batch_update(table: np.ndarray, t_pre: np.ndarray, t_post: np.ndarray,
                 gate: np.ndarray, batch: int) -> np.ndarray:  # pragma: no cover - compiled
    """``sum over b of gate[b] * table[t_post[b, o], t_pre[b, i]] / batch``, shape ``(Cout, Cin)``.

    Per sample, the gated table is gathered for the narrower side of the layer (a
    ``(window + 1, side)`` block that stays in cache) and one of its rows is added to
    each neuron of the other side: the gather costs ``N * (window + 1) * min(Cin, Cout)``.
    """
    samples, cin = t_pre.shape
    cout = t_post.shape[1]
    levels = table.shape[0]
    total = np.zeros((cout, cin), dtype=table.dtype)
    if cin <= cout:
        rows = np.empty((levels, cin), dtype=table.dtype)
        for b in range(samples):
            for level in range(levels):
                for i in range(cin):
                    rows[level, i] = gate[b] * table[level, t_pre[b, i]]
            for o in range(cout):
                row = rows[t_post[b, o]]
                for i in range(cin):
                    total[o, i] += row[i]
    else:
        transposed = np.zeros((cin, cout), dtype=table.dtype)
        columns = np.empty((levels, cout), dtype=table.dtype)
        for b in range(samples):
            for level in range(levels):
                for o in range(cout):
                    columns[level, o] = gate[b] * table[t_post[b, o], level]
            for i in range(cin):
                column = columns[t_pre[b, i]]
                for o in range(cout):
                    transposed[i, o] += column[o]
        total[:] = transposed.T
    total /= batch
    return total


@numba.njit(cache=True, nogil=True)
def gated_update(table: np.ndarray, t_pre: np.ndarray, t_post: np.ndarray, window: int,
                 dopamine: float, sync_slope: float, sync_mean: float, clamp: bool,
                 batch: int) -> np.ndarray:  # pragma: no cover - compiled
    """``clamp(batch_update(gate(synchrony)), -1, 1)``: one layer's dW in one call, the gate
    by :func:`neurodeploy.training.dassdp_gate.gate_value` compiled, cast to the table's dtype."""
    gate = _gate_value(synchrony(t_pre, t_post, window), dopamine, sync_slope, sync_mean, clamp)
    return batch_update(table, t_pre, t_post, gate.astype(table.dtype), batch).clip(-1.0, 1.0)
