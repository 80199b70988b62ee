"""The embedded 5,000 MNIST digits: shape, balance, a seeded split, and both examples parse."""
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.config import DataConfig, load_config
from neurodeploy.data import load_split

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def split():
    return load_split(DataConfig(dataset="mnist5k"), seed=0)


def test_mnist5k_is_uint8_28x28_with_a_stratified_split(split):
    assert split.train.images.dtype == np.uint8 and split.input_shape == (1, 28, 28)
    assert (len(split.train), len(split.test)) == (4000, 1000)
    assert np.bincount(split.test.labels).tolist() == [100] * 10  # 500 a class, 20 % each
    assert split.train.images.max() == 255 and split.num_classes == 10
    assert split.description["test_fraction"] == 0.2


def test_mnist5k_split_follows_the_seed(split):
    again = load_split(DataConfig(dataset="mnist5k"), seed=0)
    other = load_split(DataConfig(dataset="mnist5k"), seed=1)
    assert np.array_equal(split.test.images, again.test.images)
    assert not np.array_equal(split.test.labels, other.test.labels)


@pytest.mark.parametrize("name, conv", [("mnist5k.yaml", False), ("mnist5k_conv.yaml", True)])
def test_mnist5k_examples_parse(name, conv):
    config = load_config(EXAMPLES / name)
    assert config.data.dataset == "mnist5k" and bool(config.model.conv) == conv
