"""Progress when the output is piped: timestamped lines that arrive while the work runs."""
import os
import re
import subprocess
import sys
import time

import pytest

from neurodeploy.core import progress
from tests.conftest import SMALL_RUN, write_config

STAMP = r"^\d\d:\d\d:\d\d "


def _watch(*args: str, cwd=None, timeout: float = 240, quiet_env: str = "0") -> list[tuple[str, bool]]:
    """Run the CLI with stderr piped; each stderr line with whether the process was still
    running when the line was read (read line by line as it arrives)."""
    env = {**os.environ, progress.INTERVAL_ENV: quiet_env}
    process = subprocess.Popen([sys.executable, "-m", "neurodeploy.app.cli", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, cwd=cwd, env=env)
    lines, ends = [], time.monotonic() + timeout
    try:
        for line in process.stderr:
            lines.append((line.rstrip("\n"), process.poll() is None))
            assert time.monotonic() < ends, "timed out"
        assert process.wait(timeout=30) == 0, "\n".join(line for line, _ in lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return lines


@pytest.mark.lava
def test_train_piped_prints_each_epoch_and_batches_while_it_runs(tmp_path):
    config = write_config(tmp_path, {**SMALL_RUN, "output": str(tmp_path / "run")})
    lines = _watch("train", str(config))
    text = [line for line, _ in lines]
    epochs = [line for line in text if re.match(STAMP + r"epoch \d/3: loss", line)]
    assert [re.search(r"epoch (\d)/3", line).group(1) for line in epochs] == ["1", "2", "3"], text
    assert all("train accuracy" in line and "test accuracy" in line for line in epochs)
    live = [line for line, running in lines if running and re.match(STAMP + r"epoch 1/3: \d+/\d+ batches", line)]
    assert live, f"no batch progress while training: {text}"
    first_epoch = next(running for line, running in lines if line in epochs)
    assert first_epoch, "the first epoch's line came only after the process ended"


def test_simulate_piped_reports_samples_while_lava_runs(small_run):
    trained, _ = small_run
    lines = _watch("simulate", str(trained.network_file), "-n", "12")
    live = [line for line, running in lines if running and re.match(STAMP + r"Lava: \d+/12 samples", line)]
    assert live, [line for line, _ in lines]
    assert re.search(r"samples/s, \d+ s left", live[-1]), live[-1]


def test_quiet_prints_no_progress(small_run):
    trained, _ = small_run
    lines = _watch("simulate", str(trained.network_file), "-n", "3", "--quiet", "--backend", "emulator")
    assert lines == [], lines


def test_plain_progress_lines_and_quiet(capsys, monkeypatch):
    monkeypatch.setattr(progress, "on_terminal", lambda: False)
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")
    with progress.progress("work", 4, "items") as advance:
        for _ in range(4):
            advance()
    lines = capsys.readouterr().err.splitlines()
    assert [re.sub(STAMP, "", line).split(",")[0] for line in lines] == ["work: 1/4 items", "work: 2/4 items",
                                                                         "work: 3/4 items"]
    assert "items/s" in lines[-1] and "left" in lines[-1]
    progress.set_quiet(True)
    try:
        with progress.progress("work", 2) as advance:
            advance(2)
        progress.say("hello")
    finally:
        progress.set_quiet(False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("done, left, elapsed, expected", [(0, 5, 1.0, ""), (2, 6, 4.0, ", 12 s left"),
                                                           (1, 60, 60.0, ", 60 min left"),
                                                           (1, 3, 3600.0, ", 3.0 h left")])
def test_time_left(done, left, elapsed, expected):
    assert progress.time_left(done, left, elapsed) == expected


def test_lava_early_exit_piped_reports_steps_while_it_runs(small_run):
    trained, _ = small_run
    lines = _watch("simulate", str(trained.network_file), "-n", "12", "--exit-threshold", "1000")
    pattern = STAMP + r"Lava early exit \(margin 1000; steps and time left at most\): (\d+)/(\d+) steps"
    live = [re.match(pattern, line) for line, running in lines if running]
    live = [match for match in live if match]
    assert live, [line for line, _ in lines]
    # an unreachable margin runs every frame in full: 12 samples x the manifest's frame steps
    assert {int(match.group(2)) for match in live} == {12 * trained.manifest.schedule.frame_steps}
    done = [int(match.group(1)) for match in live]
    assert done == sorted(done) and 0 < done[-1] < 12 * trained.manifest.schedule.frame_steps


def test_float_nir_reports_each_layer(tmp_path, capsys, monkeypatch):
    import numpy as np

    from neurodeploy.interop.quantise import read_float_netx
    from neurodeploy.interop.reference import simulate_float
    from tests.netx_factory import digits_like

    network = read_float_netx(digits_like(tmp_path / "d.net"), dt=1.0)
    monkeypatch.setattr(progress, "on_terminal", lambda: False)
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")
    traces = simulate_float(network, np.random.default_rng(0).random((3, 8, *network.input_shape)) < 0.3)
    lines = [re.sub(STAMP, "", line).split(",")[0] for line in capsys.readouterr().err.splitlines()
             if re.match(STAMP + "float NIR", line)]  # (not torch's own notes, such as "No CUDA runtime")
    layers = len(network.layers)
    assert len(traces) == layers >= 2
    assert lines == [f"float NIR: {done}/{layers} layers" for done in range(1, layers)]
