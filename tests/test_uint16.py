"""Inputs of more than 8 bits end to end: 12-bit uint16 images through data, train,
export, validate, the emulator and Lava, which must agree count for count."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodeploy.core.encoding import FrameSchedule, encode
from neurodeploy.core.errors import DataError

pytestmark = pytest.mark.lava  # trains with SLAYER, runs Lava's generator

N_BITS, SIDE, PER_CLASS = 12, 6, 12


def _image_folder(root: Path) -> Path:
    """Two classes of 16-bit PNGs with 12-bit values: bright left or bright right half."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in (0, 1):
        (root / f"class{label}").mkdir(parents=True)
        for index in range(PER_CLASS):
            image = rng.integers(0, 600, (SIDE, SIDE)).astype(np.uint16)
            columns = slice(0, SIDE // 2) if label == 0 else slice(SIDE // 2, SIDE)
            image[:, columns] = rng.integers(2000, 2 ** N_BITS, (SIDE, SIDE // 2))
            Image.fromarray(image).save(root / f"class{label}" / f"{index}.png")
    return root


def _config(tmp_path: Path, n_bits: int) -> Path:
    config = {"name": "wide", "output": str(tmp_path / "run"),
              "data": {"dataset": "folder", "path": str(_image_folder(tmp_path / "images")),
                       "test_fraction": 0.25},
              "encoding": {"encoding": "temporal_bit", "temporal_steps": 4, "n_bits": n_bits},
              "model": {"hidden": [12]},
              "train": {"epochs": 1, "batch_size": 6, "device": "cpu"},
              "dassdp": {"enabled": True, "layers": ["dense1"], "warmup_epochs": 0}}
    path = tmp_path / "wide.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from neurodeploy.app.train_export import train_and_export

    tmp_path = tmp_path_factory.mktemp("uint16")
    run = train_and_export(str(_config(tmp_path, N_BITS)), output=str(tmp_path / "run"))
    return run, tmp_path


def _test_images(trained) -> np.ndarray:
    from neurodeploy.core.config import load_config
    from neurodeploy.core.data import load_split

    run, tmp_path = trained
    config = load_config(tmp_path / "wide.yaml")
    return load_split(config.data, config.seed).test.images


def test_12_bit_images_train_and_export_with_the_longer_frame(trained):
    run, _ = trained
    images = _test_images(trained)
    assert images.dtype == np.uint16 and images.max() >= 2 ** 11  # bit 11 is really used
    schedule = run.manifest.schedule
    assert schedule.n_bits == N_BITS and schedule.frame_steps == 4 + N_BITS + schedule.gap
    top_plane, _ = schedule.plane_window(N_BITS - 1)
    assert encode(images, schedule)[..., top_plane].sum() > 0


@pytest.mark.timeout(300)
def test_12_bit_emulator_and_lava_give_identical_counts(trained):
    from neurodeploy.backends.emulator.engine import emulate
    from neurodeploy.backends.lavasim.runner import run_on_lava as simulate

    run, _ = trained
    images = _test_images(trained)[:3]
    schedule = run.manifest.schedule
    emulated = emulate(run.network_file, images, schedule)
    on_lava = simulate(run.network_file, images, schedule, timeout_s=240)  # stops its runtime
    assert emulated.output_counts.sum() > 0
    assert np.array_equal(emulated.output_counts, on_lava.output_counts)


def test_validate_checks_the_timing_of_the_longer_frame(trained):
    from neurodeploy.hardware.profile import load_profile
    from neurodeploy.hardware.validate import validate, validate_file
    from neurodeploy.core.netxfile import read_netx

    run, _ = trained
    report = validate_file(run.network_file, "loihi2")
    assert not [f for f in report.findings if f.check.startswith("timing.") and f.severity == "error"]
    # five steps per plane: 4 + 12 * 5 + gap > 63, the learning engine's 6-bit spike time
    longer = replace(run.manifest, schedule=replace(run.manifest.schedule, steps_per_plane=5))
    frame = longer.schedule.frame_steps
    report = validate(read_netx(run.network_file), load_profile("loihi2"), longer)
    [latency] = report.by_check("timing.latency_bits")
    assert (latency.value, latency.limit, latency.severity) == (frame, 63, "error")


def test_12_bit_values_under_an_8_bit_config_name_both(tmp_path):
    from neurodeploy.app.train_export import train_and_export

    with pytest.raises(DataError, match=r"uint16 values span \d+..4\d{3}; expected 0..255 "
                                        r"\(uint8\) for encoding.n_bits=8"):
        train_and_export(str(_config(tmp_path, 8)), output=str(tmp_path / "run"))


def test_generator_holds_16_bit_images_and_refuses_too_wide_ones():
    from neurodeploy.backends.lavasim.procs.generator import HybridSpikeGenerator

    schedule = FrameSchedule(n_bits=16)
    generator = HybridSpikeGenerator(images=np.full((2, 4), 65535, np.uint16), schedule=schedule)
    assert generator.images.init.max() == 65535
    with pytest.raises(DataError, match=r"generator images: uint16 values span 4096..4096; "
                                        r"expected 0..4095 \(uint16\) for encoding.n_bits=12"):
        HybridSpikeGenerator(images=np.full((2, 4), 4096, np.uint16), schedule=FrameSchedule(n_bits=12))
