"""Timing checks, each on a schedule or network that breaks exactly its limit."""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.core.encoding.schedule import FrameSchedule
from neurodeploy.core.errors import NetworkFileError
from neurodeploy.hardware.profile import load_profile
from neurodeploy.hardware.timing import check_learning_window, check_timing, max_input_spikes_per_epoch
from neurodeploy.core.netxfile import read_netx
from tests import netx_factory as nf

LOIHI1, LOIHI2 = load_profile("loihi1"), load_profile("loihi2")
DEFAULT = FrameSchedule(gap=2)  # temporal_bit: 8 TTFS steps, 8 one-step planes, gap 2: 18 steps
TTFS = FrameSchedule(encoding="ttfs", temporal_steps=16, gap=2)  # 18 steps, one input spike


def only(findings, check):
    """The one finding of ``check``; no other check may have fired an error or warning."""
    matching = [f for f in findings if f.check == check]
    others = [f for f in findings if f.check != check and f.severity != "info"]
    assert len(matching) == 1 and not others, findings
    return matching[0]


def dense_chain(tmp_path, widths=(4, 3, 2), **first_layer):
    rng = np.random.default_rng(0)
    layers = [nf.dense_layer(2 * rng.integers(-5, 6, size=(out, inp)), **(first_layer if i == 0 else {}))
              for i, (inp, out) in enumerate(zip(widths, widths[1:]))]
    return read_netx(nf.write_netx(tmp_path / "chain.net", layers))


def test_a_fitting_learning_window_passes():
    assert check_learning_window(LOIHI1, TTFS, t_epoch=6, sigma=1.0) == []
    assert [f.check for f in check_learning_window(LOIHI2, TTFS, 18, 3.0)] == ["timing.t_epoch_typical"]


def test_t_epoch_must_be_whole_steps():
    finding = only(check_learning_window(LOIHI1, DEFAULT, t_epoch=4.5, sigma=1.0), "timing.whole_steps")
    assert (finding.severity, finding.layer, finding.value, finding.limit) == \
        ("error", "schedule", 4.5, "whole steps")


def test_delays_must_be_whole_steps(tmp_path):
    network = dense_chain(tmp_path, delay=np.array([0, 1.5, 2]))
    finding = only(check_timing(network, LOIHI1, DEFAULT.with_gap(6)), "timing.whole_steps")
    assert (finding.layer, finding.value, finding.limit) == ("dense0", 1.5, "whole steps")


@pytest.mark.parametrize("t_epoch", [0, 64, 1000])  # Lava itself accepts 64 and 1000
def test_t_epoch_range(t_epoch):
    schedule = FrameSchedule(encoding="rate", temporal_steps=max(t_epoch, 1), gap=0)
    findings = check_learning_window(LOIHI1, schedule, t_epoch=t_epoch, sigma=1.0)
    finding = [f for f in findings if f.check == "timing.t_epoch_range"]
    assert len(finding) == 1
    assert (finding[0].severity, finding[0].value, finding[0].limit) == ("error", t_epoch, "1..63")
    if t_epoch == 0:  # nothing else can be judged about an empty epoch
        assert findings == finding
    on_loihi2 = [f for f in check_learning_window(LOIHI2, schedule, t_epoch, 1.0)
                 if f.check in ("timing.t_epoch_range", "timing.epoch_time_bits")]
    if t_epoch == 0:  # Lava itself needs an epoch of at least one step
        assert [(f.check, f.severity) for f in on_loihi2] == [("timing.t_epoch_range", "error")]
    else:  # the published range is uncertain for Loihi 2, the 6-bit time field is not
        by_check = {f.check: f for f in on_loihi2}
        assert by_check["timing.t_epoch_range"].severity == "warning"
        assert "uncertain limit" in by_check["timing.t_epoch_range"].source
        assert (by_check["timing.epoch_time_bits"].severity, by_check["timing.epoch_time_bits"].limit) == ("error", 63)


def test_t_epoch_outside_the_typical_range_is_only_noted():
    findings = check_learning_window(LOIHI1, FrameSchedule(encoding="ttfs", temporal_steps=12), 12, 1.0)
    assert [(f.severity, f.check, f.value, f.limit) for f in findings] == \
        [("info", "timing.t_epoch_typical", 12, "2..8")]


def test_frame_must_be_a_multiple_of_the_epoch():
    finding = only(check_learning_window(LOIHI1, TTFS, t_epoch=4, sigma=1.0), "timing.epoch_multiple")
    assert (finding.layer, finding.value, finding.limit) == ("schedule", 18, "multiple of 4")
    assert "by 2 steps (frame 20)" in finding.fix


def test_epoch_longer_than_the_frame_straddles_samples():
    schedule = FrameSchedule(encoding="ttfs", temporal_steps=8, gap=0)
    findings = check_learning_window(LOIHI1, schedule, t_epoch=16, sigma=1.0)
    [finding] = [f for f in findings if f.severity == "error"]
    assert (finding.check, finding.value, finding.limit) == ("timing.epoch_straddle", 16, 8)
    # and so the epoch holds both samples' TTFS spikes
    assert [f.value for f in findings if f.check == "timing.spikes_per_epoch"] == [2]


def test_more_than_one_input_spike_per_epoch_warns():
    schedule = FrameSchedule(encoding="rate", temporal_steps=8, gap=0)
    finding = only(check_learning_window(LOIHI1, schedule, t_epoch=4, sigma=1.0), "timing.spikes_per_epoch")
    assert (finding.severity, finding.value, finding.limit) == ("warning", 4, 1)
    assert "t_epoch=1 keeps one spike per epoch" in finding.fix
    one_per_frame = FrameSchedule(encoding="ttfs", temporal_steps=4, gap=4)  # 8 steps, one spike
    [finding] = [f for f in check_learning_window(LOIHI1, one_per_frame, 16, 1.0)
                 if f.check == "timing.spikes_per_epoch"]
    assert finding.value == 2 and "t_epoch=8 keeps one spike per epoch" in finding.fix
    ttfs = FrameSchedule(encoding="ttfs", temporal_steps=8, gap=0)
    assert check_learning_window(LOIHI1, ttfs, t_epoch=8, sigma=1.0) == []


def test_spikes_per_epoch_counts_the_schedule_by_hand():
    # DEFAULT: steps 0-7 TTFS (one spike), 8-15 one plane each (one spike), 16-17 gap
    assert max_input_spikes_per_epoch(DEFAULT, 18) == 1 + 8
    assert max_input_spikes_per_epoch(DEFAULT, 6) == 1 + 4   # epoch 6..11: TTFS steps 6-7, planes 8-11
    assert max_input_spikes_per_epoch(DEFAULT, 3) == 3       # epoch 9..11 or 12..14: three planes
    full = FrameSchedule(steps_per_plane=3, plane_fill="full", n_bits=2, temporal_steps=3, gap=0)
    assert max_input_spikes_per_epoch(full, 3) == 3          # a full window spikes every step
    assert max_input_spikes_per_epoch(full.with_gap(0), 9) == 1 + 6


def test_sigma_below_one_step():
    finding = only(check_learning_window(LOIHI1, TTFS, t_epoch=6, sigma=0.5), "timing.sigma_resolution")
    assert (finding.severity, finding.value, finding.limit) == ("error", 0.5, 1)


def test_frame_longer_than_the_within_epoch_time_bits():
    schedule = FrameSchedule(encoding="ttfs", temporal_steps=70, gap=0)
    finding = only(check_learning_window(LOIHI1, schedule, t_epoch=7, sigma=1.0), "timing.latency_bits")
    assert (finding.value, finding.limit) == (70, 63)


def test_gap_must_cover_one_step_per_hop(tmp_path):
    network = dense_chain(tmp_path, widths=(4, 3, 3, 2))
    finding = only(check_timing(network, LOIHI1, DEFAULT.with_gap(2)), "timing.hop_latency")
    assert (finding.layer, finding.value, finding.limit) == ("schedule", 2, 3)
    assert "encoding.gap to at least 3" in finding.fix
    assert check_timing(network, LOIHI1, DEFAULT.with_gap(3)) == []


def test_delays_lengthen_the_drain(tmp_path):
    network = dense_chain(tmp_path, delay=np.array([0, 4, 1]))
    finding = only(check_timing(network, LOIHI1, DEFAULT.with_gap(5)), "timing.hop_latency")
    assert (finding.value, finding.limit) == (5, 2 + 4)


def test_delay_range(tmp_path):
    network = dense_chain(tmp_path, delay=np.array([0, 70, 1]))
    finding = only(check_timing(network, LOIHI1, DEFAULT.with_gap(80)), "timing.delay_range")
    assert (finding.severity, finding.layer, finding.value, finding.limit) == ("error", "dense0", 70, "0..62")
    with pytest.raises(NetworkFileError, match=r"layer/0 \(dense\): delay holds -1.0; delays are >= 0"):
        dense_chain(tmp_path, delay=np.array([0, -1, 1]))  # Lava's DelayDense refuses it: netx cannot build it


def test_loihi1_delays_beyond_eight_units_warn(tmp_path):
    network = dense_chain(tmp_path, delay=np.array([0, 10, 1]))
    finding = only(check_timing(network, LOIHI1, DEFAULT.with_gap(12)), "timing.delay_guaranteed")
    assert (finding.severity, finding.layer, finding.value, finding.limit) == ("warning", "dense0", 10, "0..7")
    assert check_timing(network, LOIHI2, DEFAULT.with_gap(12)) == []


def test_refractory_range(tmp_path):
    network = dense_chain(tmp_path, neuron=nf.cuba_neuron(refDelay=100))
    finding = only(check_timing(network, LOIHI1, DEFAULT), "timing.refractory_range")
    assert (finding.severity, finding.layer, finding.value, finding.limit) == ("error", "dense0", 100, "0..63")
    assert only(check_timing(network, LOIHI2, DEFAULT), "timing.refractory_range").severity == "warning"


def test_without_a_schedule_frame_checks_are_skipped_and_said_so(tmp_path):
    network = dense_chain(tmp_path, widths=(4, 3, 3, 3, 2))
    findings = check_timing(network, LOIHI1, None, {"t_epoch": 1000, "sigma": 0.1})
    assert [(f.severity, f.check) for f in findings] == [("info", "timing.no_schedule")]


def test_dassdp_settings_reach_the_window_check(tmp_path):
    network = dense_chain(tmp_path)
    findings = check_timing(network, LOIHI1, TTFS, {"t_epoch": 4, "sigma": 2.0})
    assert only(findings, "timing.epoch_multiple").limit == "multiple of 4"
    default_epoch = check_timing(network, LOIHI1, DEFAULT, {"t_epoch": None, "sigma": 1.0})
    assert only(default_epoch, "timing.spikes_per_epoch").value == 9  # t_epoch = the frame


def test_epoch_alignment_is_an_error_even_where_the_epoch_range_is_uncertain():
    findings = check_learning_window(LOIHI2, TTFS, t_epoch=4, sigma=1.0)
    assert [(f.check, f.severity) for f in findings] == [("timing.epoch_multiple", "error")]
