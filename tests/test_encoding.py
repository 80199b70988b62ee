"""Property tests of the four encodings and the frame schedule (encoding.md)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from neurodeploy.core.encoding import (FrameSchedule, bit_planes, check_images, encode, from_unit_float,
                                  rate, ttfs)
from neurodeploy.core.errors import ConfigError, DataError

images_u8 = arrays(np.uint8, st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 4),
                                       st.integers(1, 4)))
schedules = st.builds(FrameSchedule, encoding=st.sampled_from(["ttfs", "temporal_bit"]),
                      temporal_steps=st.integers(1, 12), steps_per_plane=st.integers(1, 3),
                      gap=st.integers(0, 3), order=st.sampled_from(["msb_first", "lsb_first"]),
                      plane_fill=st.sampled_from(["first", "full"]), drop_lsb=st.integers(0, 3))


@given(images_u8)
def test_bit_planes_rebuild_every_pixel_exactly(images):
    planes = bit_planes(torch.as_tensor(images), 8)
    weights = 2 ** torch.arange(8)
    assert torch.equal((planes * weights).sum(-1), torch.as_tensor(images, dtype=torch.int64))


@given(st.integers(1, 32))
def test_ttfs_spike_time_decreases_with_intensity(steps):
    intensities = torch.arange(256).reshape(1, 1, 1, 256)
    spikes = ttfs(intensities, steps)[0, 0, 0]
    assert spikes[0].sum() == 0, "a zero pixel stays silent"
    assert torch.all(spikes[1:].sum(-1) == 1), "every non-zero pixel spikes exactly once"
    times = spikes[1:].argmax(-1)
    assert torch.all(times[1:] <= times[:-1]), "brighter pixels spike no later"
    assert times[-1] == 0 and (steps == 1 or times[0] == steps - 1)


@settings(max_examples=60)
@given(images_u8, schedules)
def test_spike_counts_are_as_defined(images, schedule):
    spikes = encode(images, schedule)
    assert spikes.shape == (*images.shape, schedule.frame_steps)
    pixels = images.astype(np.int64)
    kept = pixels >> schedule.drop_lsb
    popcount = np.vectorize(lambda value: bin(value).count("1"))(kept) if schedule.is_hybrid else 0
    per_plane = schedule.steps_per_plane if schedule.plane_fill == "full" else 1
    expected = (pixels > 0).astype(int) + popcount * per_plane
    np.testing.assert_array_equal(spikes.sum(-1).numpy(), expected)
    assert spikes[..., schedule.active_steps:].sum() == 0, "the gap is silent"


@given(st.integers(0, 255), schedules.filter(lambda s: s.is_hybrid))
def test_each_plane_window_carries_its_bit(value, schedule):
    spikes = encode(np.full((1, 1, 1, 1), value, np.uint8), schedule)[0, 0, 0, 0]
    for bit in schedule.planes:
        start, stop = schedule.plane_window(bit)
        assert spikes[start] == (value >> bit) & 1
    if schedule.order == "msb_first":
        assert list(schedule.planes) == sorted(schedule.planes, reverse=True)


def test_rate_is_seeded_and_bounded():
    images = torch.tensor([[[[0, 128, 255]]]])
    first = rate(images, 500, seed=3)
    again = rate(images, 500, seed=3)
    other = rate(images, 500, seed=4)
    assert torch.equal(first, again) and not torch.equal(first, other)
    counts = first[0, 0, 0].sum(-1)
    assert counts[0] == 0 and counts[2] == 500 and 200 < counts[1] < 300


def test_hybrid_frame_length_and_defaults():
    schedule = FrameSchedule(gap=2)
    assert schedule.frame_steps == 8 + 8 + 2 and schedule.planes == (7, 6, 5, 4, 3, 2, 1, 0)
    assert FrameSchedule(encoding="rate", temporal_steps=20, gap=1).frame_steps == 21
    assert FrameSchedule(drop_lsb=3, steps_per_plane=2).frame_steps == 8 + 5 * 2
    assert FrameSchedule.from_dict(schedule.to_dict()) == schedule


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 1, 4, 4), np.float32), "dtype"),
    (np.zeros((1, 4, 4), np.uint8), "rank 3"),
    (np.full((1, 1, 2, 2), 300, np.int16), "0..255"),
    (np.full((1, 1, 2, 2), -1, np.int32), "-1..-1"),
])
def test_bad_images_are_refused_with_the_offending_value(bad, message):
    with pytest.raises(DataError, match=message):
        check_images(bad)


def test_uint16_images_encode_all_their_bits():
    schedule = FrameSchedule(n_bits=12, gap=0)
    images = np.array([0, 1, 2048, 4095], np.uint16).reshape(1, 1, 2, 2)
    planes = encode(images, schedule)[0, 0].reshape(4, -1)[:, schedule.plane_start:]
    assert planes.shape == (4, 12)  # MSB first: bit 11 .. bit 0
    assert planes[1].tolist() == [0.0] * 11 + [1.0]
    assert planes[2].tolist() == [1.0] + [0.0] * 11
    assert planes[3].sum() == 12


@pytest.mark.parametrize("images, n_bits, message", [
    (np.full((1, 1, 1, 1), 4096, np.uint16), 12, r"uint16 values span 4096..4096; expected "
                                                  r"0..4095 \(uint16\) for encoding.n_bits=12"),
    (np.full((1, 1, 1, 1), 300, np.uint16), 8, r"expected 0..255 \(uint8\) for encoding.n_bits=8"),
    (np.zeros((1, 1, 1, 1), np.float64), 12, "dtype float64 is not an integer image type; "
                                             "expected uint16 for encoding.n_bits=12"),
    (torch.zeros((1, 1, 1, 1), dtype=torch.bool), 8, "dtype bool .* expected uint8 for encoding.n_bits=8"),
])
def test_refusals_name_the_dtype_found_and_the_one_n_bits_needs(images, n_bits, message):
    with pytest.raises(DataError, match=message) as error:
        check_images(images, n_bits)
    assert "\n" not in str(error.value)


def test_a_uint8_image_is_a_valid_12_bit_input():
    images = np.full((1, 1, 1, 1), 255, np.uint8)
    assert check_images(images, 12).tolist() == [[[[255]]]]


def test_unit_floats_convert_with_the_documented_rule_and_refuse_nan():
    assert from_unit_float(np.array([0.0, 0.5, 1.0])).tolist() == [0, 128, 255]
    with pytest.raises(DataError, match="NaN"):
        from_unit_float(np.array([np.nan]))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        from_unit_float(np.array([1.5]))


@pytest.mark.parametrize("field, value", [("encoding", "bits"), ("gap", -1), ("steps_per_plane", 0),
                                          ("drop_lsb", 8), ("temporal_steps", 2.5)])
def test_bad_schedules_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        FrameSchedule(**{field: value})


def test_an_encoding_with_an_unimplemented_temporal_code_is_refused_never_read_as_ttfs(monkeypatch):
    """A line added to ENCODING_TABLE with a new temporal code stops at the schedule: every
    consumer branches on rate vs ttfs, so it would otherwise run as one of them."""
    from neurodeploy.core.encoding import schedule as schedule_module

    monkeypatch.setitem(schedule_module.ENCODING_TABLE, "burst_bit", ("burst", True))
    with pytest.raises(ConfigError, match=r"encoding='burst_bit'.*temporal code in \('rate', 'ttfs'\), not 'burst'"):
        FrameSchedule(encoding="burst_bit")
    with pytest.raises(ConfigError, match=r"encoding='nope'"):
        FrameSchedule(encoding="nope")
