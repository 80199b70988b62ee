"""numba caches the emulator's kernels in the user's cache folder, not in the package."""
import os
import subprocess
import sys

import numpy as np

SCRIPT = ("import numba\n"  # numba first: its config was read before neurodeploy could set the variable
          "from neurodeploy.backends.emulator import kernels\n"
          "print(numba.core.config.CACHE_DIR)\n"
          "from neurodeploy.training import fused_cuba_kernels\n"
          "print(kernels.dense_events._cache._cache_path)\n"
          "print(fused_cuba_kernels.cuba_forward._cache._cache_path)\n")


def _paths(tmp_path, **variables):
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), **variables)
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_kernels_cache_in_the_users_cache_folder(tmp_path):
    config_dir, *kernel_caches = _paths(tmp_path)
    assert config_dir == str(tmp_path / "xdg" / "neurodeploy" / "numba")
    for kernel_cache in kernel_caches:  # the emulator's kernels and training's fused neuron
        assert kernel_cache.startswith(config_dir + os.sep), kernel_cache


def test_a_numba_cache_dir_the_user_set_is_kept(tmp_path):
    config_dir, *kernel_caches = _paths(tmp_path, NUMBA_CACHE_DIR=str(tmp_path / "mine"))
    assert config_dir == str(tmp_path / "mine")
    assert all(kernel_cache.startswith(config_dir + os.sep) for kernel_cache in kernel_caches)


def test_the_compile_is_reported_apart_and_once_per_process(small_run):
    import neurodeploy as nd

    trained, _ = small_run
    inputs = nd.ImageInput(trained.split.test.images[:8], trained.manifest.schedule)
    first = nd.simulate(trained.network_file, inputs, backend="emulator")
    again = nd.simulate(trained.network_file, inputs, backend="emulator")
    assert first.extra["compile_s"] >= 0 and again.extra["compile_s"] == 0.0
    assert "compile_s" in again.metrics()
    assert np.array_equal(first.output_counts, again.output_counts)
