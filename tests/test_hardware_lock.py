"""Locks validate's results (verdict, findings, core map, per-core table, estimate) on
both Loihi profiles for PilotNet, YOLO-KP, digits-sized nets and random ones.

The mappers were vectorised for speed with no result to change: the golden file was
written by the implementation before that work (commit 964c082) and every value must
still come out equal, floats included. Regenerate it only when a result is meant to
change, and say why in the commit: ``.venv/bin/python -m tests.test_hardware_lock --write``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml

from benchmarks.validate_pilotnet import build as build_pilotnet, build_yolo_kp
from neurodeploy.hardware.profile import profiles_dir
from neurodeploy.hardware.validate import validate_file
from tests import netx_factory as nf
from tests.random_nets import random_case

GOLDEN = Path(__file__).parent / "fixtures" / "hardware_lock.json"
RANDOM_SEEDS = range(12)


def _weights(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return 2 * rng.integers(-60, 61, size=shape)


def _digits(path: Path) -> Path:
    first, second = nf.digits_weights(0)
    return nf.write_netx(path, [nf.dense_layer(first), nf.dense_layer(second)])


def _conv_digits(path: Path) -> Path:
    """examples/conv_digits.yaml's shape: 1x8x8 -> conv 16 (3x3, stride 2, pad 1) -> dense 128 -> 10."""
    rng = np.random.default_rng(1)
    return nf.write_netx(path, [nf.conv_layer(_weights(rng, 16, 1, 3, 3), (16, 4, 4), 2, 1),
                                nf.raw_layer("flatten", [256]),
                                nf.dense_layer(_weights(rng, 128, 256)), nf.dense_layer(_weights(rng, 10, 128))])


def _grouped(path: Path) -> Path:
    """An Input block, a grouped conv (4 groups), a strided conv with padding and
    dilation, a recurrent dense with delays: the mapper's other axes and layouts."""
    rng = np.random.default_rng(2)
    grouped = nf.conv_layer(_weights(rng, 16, 2, 3, 3), (16, 30, 30))
    grouped.update(groups=4)
    dilated = nf.conv_layer(_weights(rng, 12, 16, 3, 3), (12, 13, 15))
    dilated.update(stride=np.array([2, 2]), padding=np.array([0, 1]), dilation=np.array([2, 1]))
    return nf.write_netx(path, [
        {"type": "input", "shape": np.array([8, 32, 32]), "neuron": nf.cuba_neuron()},
        grouped, dilated, nf.raw_layer("flatten", [12 * 13 * 15]),
        nf.dense_layer(_weights(rng, 40, 12 * 13 * 15), delay=rng.integers(0, 5, size=40)),
        nf.dense_layer(_weights(rng, 10, 40), weight_rec=_weights(rng, 10, 10))])


NETS: dict[str, Callable[[Path], Path]] = {
    "pilotnet": build_pilotnet, "yolo_kp": build_yolo_kp, "digits": _digits,
    "conv_digits": _conv_digits, "grouped": _grouped,
    **{f"random{seed}": (lambda path, seed=seed: random_case(path.parent, seed).path) for seed in RANDOM_SEEDS}}


def _shared_loihi1(folder: Path) -> Path:
    """Loihi 1 with conv kernels shared, the accounting's other synapse-memory rule."""
    raw = yaml.safe_load((profiles_dir() / "loihi1.yaml").read_text())
    raw["resources"]["conv_weight_sharing"]["value"] = True
    path = folder / "loihi1_shared.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def results(folder: Path) -> dict[str, Any]:
    """Every net's report on every profile, without the paths."""
    profiles = {"loihi1": "loihi1", "loihi2": "loihi2", "loihi1_shared": _shared_loihi1(folder)}
    out: dict[str, Any] = {}
    for name, builder in NETS.items():
        (folder / name).mkdir()
        path = builder(folder / name / f"{name}.net")
        for label, profile in profiles.items():
            report = validate_file(path, profile).to_dict()
            report.pop("network"), report.pop("manifest")
            out[f"{name}/{label}"] = json.loads(json.dumps(report))
    return out


@pytest.fixture(scope="module")
def now(tmp_path_factory) -> dict[str, Any]:
    return results(tmp_path_factory.mktemp("lock"))


GOLDEN_KEYS = sorted(json.loads(GOLDEN.read_text())) if GOLDEN.is_file() else []


@pytest.mark.parametrize("key", GOLDEN_KEYS)
def test_report_is_unchanged(now, key):
    golden = json.loads(GOLDEN.read_text())[key]
    assert now[key]["mapping"] == golden["mapping"]
    assert now[key] == golden


def test_golden_covers_every_net_and_profile(now):
    assert sorted(now) == GOLDEN_KEYS and len(GOLDEN_KEYS) == 3 * len(NETS)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile

    with tempfile.TemporaryDirectory() as temporary:
        GOLDEN.write_text(json.dumps(results(Path(temporary)), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
