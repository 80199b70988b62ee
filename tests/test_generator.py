"""The generator process emits exactly the torch encoder's spikes, step by step."""
import numpy as np
import pytest

from neurodeploy.core.config import DataConfig
from neurodeploy.core.data import load_split
from neurodeploy.core.encoding import FrameSchedule, encode
from neurodeploy.core.errors import ConfigError
from neurodeploy.backends.lavasim.runner import arrange_for_port

pytestmark = pytest.mark.lava  # Lava's spike generator process


def _record(images: np.ndarray, schedule: FrameSchedule, tag: str) -> np.ndarray:
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer

    from neurodeploy.backends.lavasim.procs.generator import HybridSpikeGenerator

    generator = HybridSpikeGenerator(images=images, schedule=schedule)
    steps = len(images) * schedule.frame_steps
    sink = RingBuffer(shape=images.shape[1:], buffer=steps)
    generator.s_out.connect(sink.a_in)
    try:
        generator.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag=tag))
        return sink.data.get()
    finally:
        generator.stop()


SCHEDULES = [FrameSchedule(gap=2),
             FrameSchedule(temporal_steps=5, steps_per_plane=2, plane_fill="full", order="lsb_first", gap=1),
             FrameSchedule(encoding="ttfs", temporal_steps=12, gap=0),
             FrameSchedule(drop_lsb=3, gap=3)]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("tag", ["floating_pt", "fixed_pt"])
@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: f"{s.encoding}-{s.frame_steps}")
def test_generator_matches_torch_encoder_on_every_step(tag, schedule):
    test = load_split(DataConfig(), seed=0).test
    images = test.images[:60]
    recorded = _record(arrange_for_port(images, (64,)), schedule, tag)
    expected = encode(images, schedule).reshape(60, 64, -1).permute(1, 0, 2).reshape(64, -1).numpy()
    assert recorded.shape == expected.shape
    assert int((recorded != expected).sum()) == 0


@pytest.mark.timeout(120)
def test_generator_uses_the_conv_port_layout():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 2, 3, 4), dtype=np.uint8)
    schedule = FrameSchedule(gap=1)
    recorded = _record(arrange_for_port(images, (4, 3, 2)), schedule, "fixed_pt")
    expected = encode(images, schedule).permute(0, 3, 2, 1, 4)  # N, W, H, C, T
    expected = expected.permute(1, 2, 3, 0, 4).reshape(4, 3, 2, -1).numpy()
    assert int((recorded != expected).sum()) == 0


def test_rate_codes_are_refused_by_the_generator():
    from neurodeploy.backends.lavasim.procs.generator import HybridSpikeGenerator

    with pytest.raises(ConfigError, match="'rate_bit' draws random spikes"):
        HybridSpikeGenerator(images=np.zeros((1, 4), np.uint8), schedule=FrameSchedule(encoding="rate_bit"))
