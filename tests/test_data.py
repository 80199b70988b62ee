import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.core.config import DataConfig
from neurodeploy.core.data import ImageSet, load_split
from neurodeploy.core.errors import DataError


def test_digits_are_uint8_nchw_with_a_fixed_split():
    split = load_split(DataConfig(), seed=0)
    assert split.train.images.dtype == np.uint8 and split.train.images.shape[1:] == (1, 8, 8)
    assert (len(split.train), len(split.test)) == (1437, 360)
    assert split.train.images.max() == 255 and split.num_classes == 10
    again = load_split(DataConfig(), seed=0)
    assert np.array_equal(split.test.labels, again.test.labels)
    assert not np.array_equal(split.test.labels, load_split(DataConfig(), seed=1).test.labels)


def test_cifar10_batches(tmp_path):
    rng = np.random.default_rng(0)
    for name, count in [("data_batch_1", 6), ("data_batch_2", 4), ("test_batch", 5)]:
        batch = {b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                 b"labels": list(rng.integers(0, 10, count))}
        (tmp_path / name).write_bytes(pickle.dumps(batch))
    split = load_split(DataConfig(dataset="cifar10", path=str(tmp_path)), seed=0)
    assert split.train.images.shape == (10, 3, 32, 32) and len(split.test) == 5


def _idx(data: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, data.ndim]) + np.asarray(data.shape, ">u4").tobytes()
    return header + data.astype(np.uint8).tobytes()


def test_mnist_idx_files_plain_and_gzipped(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(rng.integers(0, 256, (7, 28, 28))))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(rng.integers(0, 10, 7)))
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(rng.integers(0, 256, (3, 28, 28)))))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(rng.integers(0, 10, 3))))
    split = load_split(DataConfig(dataset="mnist", path=str(tmp_path)), seed=0)
    assert split.train.images.shape == (7, 1, 28, 28) and len(split.test) == 3


def test_image_folder_per_class(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for index in range(5):
            Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(tmp_path / label / f"{index}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    split = load_split(DataConfig(dataset="folder", path=str(tmp_path), test_fraction=0.4), seed=0)
    assert split.train.images.shape == (6, 3, 6, 6) and split.num_classes == 2


def test_image_folder_keeps_16_bit_greyscale_as_uint16(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for index in range(5):
            Image.fromarray(rng.integers(0, 4096, (6, 6), dtype=np.uint16)).save(tmp_path / label / f"{index}.png")
    split = load_split(DataConfig(dataset="folder", path=str(tmp_path), test_fraction=0.4), seed=0)
    assert split.train.images.dtype == np.uint16 and split.train.images.shape == (6, 1, 6, 6)
    assert 255 < split.train.images.max() < 4096
    assert split.description["test_fraction"] == 0.4  # simulate re-splits the same way
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / "a" / "8bit.png")
    with pytest.raises(DataError, match=r"images mix \['uint16', 'uint8'\] pixels"):
        load_split(DataConfig(dataset="folder", path=str(tmp_path)), seed=0)


@pytest.mark.lava
def test_the_cifar10_example_trains_on_fabricated_batches(tmp_path):
    from neurodeploy.core.config import load_config
    from neurodeploy.app.train_export import train_and_export

    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, count in [("data_batch_1", 30), ("data_batch_2", 30), ("test_batch", 20)]:
        batch = {b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                 b"labels": list(rng.integers(0, 10, count))}
        (folder / name).write_bytes(pickle.dumps(batch))
    example = Path(__file__).resolve().parents[1] / "examples" / "cifar10.yaml"
    overrides = {"data.path": str(folder), "train.epochs": 1}
    config = load_config(example, overrides)
    assert config.data.dataset == "cifar10" and config.model.conv
    run = train_and_export(str(example), overrides, output=str(tmp_path / "run"))
    assert run.manifest.input_shape == (3, 32, 32) and len(run.manifest.layers) >= 3
    assert (tmp_path / "run" / run.manifest.network_file).is_file()
    assert 0.0 <= run.torch_accuracy <= 1.0


@pytest.mark.parametrize("config, message", [
    (DataConfig(dataset="cifar10"), "data.path is required"),
    (DataConfig(dataset="mnist", path="/nonexistent/mnist"), "/nonexistent/mnist: folder not found"),
])
def test_missing_data_paths_are_named(config, message):
    with pytest.raises(DataError, match=message):
        load_split(config, seed=0)


def test_corrupt_idx_is_refused(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04junk")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(np.zeros(1)))
    with pytest.raises(DataError, match="not an unsigned-byte IDX"):
        load_split(DataConfig(dataset="mnist", path=str(tmp_path)), seed=0)


def test_image_sets_hold_uint16_for_wide_inputs():
    images = np.full((2, 1, 4, 4), 4095, np.uint16)
    assert ImageSet(images, np.zeros(2, np.int64)).images.dtype == np.uint16


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 1, 4, 4), np.float32), "dtype float32; expected uint8 .up to 8 bits. or uint16"),
    (np.zeros((2, 1, 4, 4), np.uint32), "dtype uint32"),
    (np.zeros((2, 16), np.uint8), "rank 4"),
])
def test_image_sets_check_dtype_and_rank(images, message):
    with pytest.raises(DataError, match=message):
        ImageSet(images, np.zeros(len(images), np.int64), "mine")


def _counting_parser(calls: list[int]):
    def parse():
        calls.append(1)
        return {"values": np.arange(6, dtype=np.int64).reshape(2, 3), "labels": np.array([3, 1])}
    return parse


def test_cached_arrays_parse_once_per_source_content(tmp_path, monkeypatch):
    from neurodeploy.core.data.cache import cached_arrays, source_key

    monkeypatch.setenv("NEURODEPLOY_CACHE", str(tmp_path / "cache"))
    source, calls = tmp_path / "table.csv", []
    source.write_text("1,2,3\n")
    first = cached_arrays(source_key("table", source), _counting_parser(calls))
    again = cached_arrays(source_key("table", source), _counting_parser(calls))
    assert len(calls) == 1 and all(np.array_equal(first[key], again[key]) for key in first)
    assert again["values"].dtype == np.int64 and again["values"].shape == (2, 3)
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [f"{source_key('table', source)}.npz"]
    source.write_text("1,2,4\n")  # another file: its own hash, parsed again
    cached_arrays(source_key("table", source), _counting_parser(calls))
    assert len(calls) == 2 and len(list((tmp_path / "cache").iterdir())) == 2


def test_a_damaged_cache_file_is_parsed_again_and_replaced(tmp_path, monkeypatch):
    from neurodeploy.core.data.cache import cached_arrays, source_key

    monkeypatch.setenv("NEURODEPLOY_CACHE", str(tmp_path))
    source, calls = tmp_path / "table.csv", []
    source.write_text("x")
    key = source_key("table", source)
    (tmp_path / f"{key}.npz").write_bytes(b"PK\x03\x04 not a whole zip")
    assert cached_arrays(key, _counting_parser(calls))["labels"].tolist() == [3, 1] and len(calls) == 1
    assert cached_arrays(key, _counting_parser(calls))["labels"].tolist() == [3, 1] and len(calls) == 1


def test_an_unwritable_cache_folder_falls_back_to_parsing(tmp_path, monkeypatch):
    from neurodeploy.core.data.cache import cached_arrays, source_key

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("NEURODEPLOY_CACHE", str(blocker / "cache"))  # no folder can be made under a file
    source, calls = tmp_path / "table.csv", []
    source.write_text("x")
    for _ in range(2):
        assert cached_arrays(source_key("table", source), _counting_parser(calls))["values"].sum() == 15
    assert len(calls) == 2 and blocker.read_text() == ""
    assert cached_arrays(source_key("missing", tmp_path / "nope.csv"), _counting_parser(calls)) and len(calls) == 3


def test_cache_folder_follows_the_variable_then_xdg_then_home(tmp_path, monkeypatch):
    from neurodeploy.core.data.cache import cache_folder

    monkeypatch.setenv("NEURODEPLOY_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder() == tmp_path / "mine"
    monkeypatch.delenv("NEURODEPLOY_CACHE")
    assert cache_folder() == tmp_path / "xdg" / "neurodeploy"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_folder() == tmp_path / "home" / ".cache" / "neurodeploy"
