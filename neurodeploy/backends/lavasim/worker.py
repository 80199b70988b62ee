"""The Lava backend from another interpreter: a worker process in a Python 3.10 environment
with ``neurodeploy[lava]``, for a caller on a Python without Lava (the core install).

Lava and lava-dl install on Python 3.10 only; ``NEURODEPLOY_LAVA_PYTHON`` names the python
of such an environment, and :class:`~neurodeploy.backends.lavasim.LavaSimulator` then runs
:func:`run_in_worker` instead of the runner. The client writes a request folder (the
network's bytes, the inputs as ``.npz``, the run options as JSON), starts
``python -m neurodeploy.backends.lavasim.worker FOLDER``, and rebuilds the
:class:`SimulationResult` the worker's :func:`~.runner.run_on_lava` wrote back the same
way. ``.npz`` (no pickle) and JSON read the same on numpy 1.26 and 2.x, on any Python.

- A :class:`NeurodeployError` in the worker comes back as the same type and line; a worker
  that dies is one line naming its python and its last line on stderr.
- The worker's stdout and stderr (progress, Lava's messages) pass through to this
  process's stderr as they come: stdout stays the command's own.
- The worker runs in a session of its own: Ctrl-C here stops it through this process
  (SIGINT, so the runner aborts Lava and unlinks its shared memory; after
  :data:`STOP_GRACE_S` its whole process group is killed), and so does this process's
  wall-clock limit: ``timeout_s`` (which the runner also applies inside the worker) plus
  :data:`START_MARGIN_S` for the interpreter and its imports, or none without
  ``timeout_s``: the runner's stall watchdog stops a hung run inside the worker. A worker
  whose client is gone stops itself.
"""
from __future__ import annotations

import codecs
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from neurodeploy.core.errors import NeurodeployError, SimulationError
from neurodeploy.core.extras import neurodeploy_version

if TYPE_CHECKING:
    from neurodeploy.core.inputs import Inputs
    from neurodeploy.core.netxfile import NetxNetwork
    from neurodeploy.core.results import SimulationResult

MODULE = "neurodeploy.backends.lavasim.worker"
#: Seconds the client allows on top of ``timeout_s`` for the worker's interpreter to start
#: and import numpy, torch, Lava and lava-dl (measured by ``benchmarks/lava_worker.py``).
START_MARGIN_S = 120.0
#: Seconds a worker has to stop after SIGINT before its process group is killed.
STOP_GRACE_S = 5.0
#: How often a worker looks whether its client is still there.
POLL_S = 0.5
#: Modules whose NeurodeployError types a worker's error may be (looked up by name).
ERROR_MODULES = ("neurodeploy.core.errors", "neurodeploy.backends.lavasim.private")
_NETWORK, _INPUTS, _REQUEST = "network.net", "inputs.npz", "request.json"
_RESULT, _ARRAYS, _ERROR = "result.json", "result.npz", "error.json"


# --- the client: this process ---------------------------------------------------------------

def run_in_worker(python: str, network: "NetxNetwork", inputs: "Inputs", *, record: bool = False,
                  reset: bool = True, reset_interval: Optional[int] = None, keep_output: bool = False,
                  timeout_s: Optional[float] = None) -> "SimulationResult":
    """What :func:`~.runner.run_on_lava` returns for these arguments (``record`` is its
    ``record_layers``), computed by a worker process running ``python``."""
    from neurodeploy.core.progress import is_quiet

    if timeout_s is not None and not 0 < timeout_s < float("inf"):
        raise SimulationError(f"timeout {timeout_s!r} s: expected a positive, finite number of seconds")
    folder = Path(tempfile.mkdtemp(prefix="neurodeploy-lava-"))
    try:
        (folder / _NETWORK).write_bytes(network.raw)
        request = {"version": neurodeploy_version(), "quiet": is_quiet(),
                   "network": {"path": str(network.path),
                               "input_shape": None if network.input_shape is None else list(network.input_shape)},
                   "inputs": _write_inputs(folder / _INPUTS, inputs),
                   "options": {"record": record, "reset": reset, "reset_interval": reset_interval,
                               "keep_output": keep_output, "timeout_s": timeout_s}}
        (folder / _REQUEST).write_text(json.dumps(request))
        _call(python, folder, None if timeout_s is None else timeout_s + START_MARGIN_S)
        if (folder / _ERROR).exists():
            raise _error_of(json.loads((folder / _ERROR).read_text()))
        return _read_result(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _call(python: str, folder: Path, limit_s: Optional[float]) -> None:
    """Run the worker on ``folder``, its output passed through to stderr; raise unless it
    ends well within ``limit_s`` seconds, stopping it (and every process it started)."""
    reading, writing = os.pipe()
    try:
        process = subprocess.Popen([python, "-m", MODULE, str(folder)], stdin=subprocess.DEVNULL,
                                   stdout=writing, stderr=writing, start_new_session=True)
    except OSError as error:
        os.close(reading)
        raise NeurodeployError(f"the Lava worker's python {python} cannot be started ({error.strerror})") from None
    finally:
        os.close(writing)
    tail: list[str] = []
    relay = threading.Thread(target=_relay, args=(reading, tail), name="lava-worker-output", daemon=True)
    relay.start()
    try:
        code = process.wait(limit_s)
    except subprocess.TimeoutExpired:
        _stop(process)
        relay.join()
        raise SimulationError(f"the Lava worker ({python}) did not finish within {limit_s:g} s (the timeout and "
                              f"{START_MARGIN_S:g} s to start); it and its Lava processes were stopped "
                              f"(--timeout sets the limit)") from None
    except BaseException:  # Ctrl-C: the worker is in a session of its own, so it is stopped from here
        _stop(process)
        raise
    relay.join(STOP_GRACE_S)  # a process the worker left behind may hold the pipe open
    if code != 0 or not ((folder / _RESULT).exists() or (folder / _ERROR).exists()):
        last = next((line for line in reversed(tail) if line.strip()), "no output")
        raise NeurodeployError(f"the Lava worker ({python}) exited with code {code}: {last.strip()}")


def _relay(reading: int, tail: list[str]) -> None:
    """Copy the worker's output to this process's stderr as it comes; keep its last lines."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    with os.fdopen(reading, "rb", buffering=0) as stream:
        while chunk := stream.read(1 << 16):
            text = decoder.decode(chunk)
            sys.stderr.write(text)
            sys.stderr.flush()
            pending += text
            lines = pending.splitlines()
            if lines:
                pending = "" if pending.endswith(("\n", "\r")) else lines.pop()
                tail[:] = (tail + lines)[-8:]
    if pending:
        tail.append(pending)


def _stop(process: subprocess.Popen) -> None:
    """SIGINT to the worker (its runner aborts Lava), then SIGKILL to its whole group."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGINT)
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # Lava's processes, and the worker if it did not stop
    except ProcessLookupError:
        pass  # the group is gone: everything stopped
    process.wait()


def _write_inputs(path: Path, inputs: "Inputs") -> dict[str, Any]:
    """The arrays of ``inputs`` into ``path`` (``.npz``); the rest as JSON data."""
    from neurodeploy.core.inputs import BiasInput, ImageInput

    arrays = {} if inputs.labels is None else {"labels": np.asarray(inputs.labels)}
    described: dict[str, Any] = {"kind": inputs.kind, "labels": inputs.labels is not None}
    if isinstance(inputs, ImageInput):
        arrays["images"] = inputs.images
        described.update(schedule=inputs.schedule.to_dict(), seed=int(inputs.seed), first=int(inputs.first))
    elif isinstance(inputs, BiasInput):
        arrays["bias"] = inputs.bias
        described["steps"] = int(inputs.steps)
    else:
        arrays["spikes"] = inputs.spikes
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)
    return described


def _read_inputs(path: Path, described: dict[str, Any]) -> "Inputs":
    from neurodeploy.core.encoding.schedule import FrameSchedule
    from neurodeploy.core.inputs import BiasInput, ImageInput, SpikeInput

    with np.load(path, allow_pickle=False) as arrays:
        labels = arrays["labels"] if described["labels"] else None
        if described["kind"] == "images":
            return ImageInput(arrays["images"], FrameSchedule.from_dict(described["schedule"]), described["seed"],
                              labels, described["first"])
        if described["kind"] == "bias":
            return BiasInput(arrays["bias"], described["steps"], labels)
        return SpikeInput(arrays["spikes"], labels)


def _write_result(folder: Path, result: "SimulationResult") -> None:
    """``result`` as ``result.npz`` (its arrays) and ``result.json`` (the rest, written last)."""
    from neurodeploy.core.atomic import atomic_path, write_json

    arrays = {"output_counts": result.output_counts}
    if result.output_spikes is not None:
        arrays["output_spikes"] = result.output_spikes
    traces = None
    if result.recording is not None:
        traces = []
        for index, (name, trace) in enumerate(result.recording.items()):
            arrays[f"spikes{index}"] = trace.spikes
            if trace.voltage is not None:
                arrays[f"voltage{index}"] = trace.voltage
            traces.append({"name": name, "hops": trace.hops, "voltage": trace.voltage is not None})
    with atomic_path(folder / _ARRAYS) as temporary, open(temporary, "wb") as stream:
        np.savez(stream, **arrays)
    write_json(folder / _RESULT, {
        "backend": result.backend, "spikes_per_layer": result.spikes_per_layer,
        "neurons_per_layer": result.neurons_per_layer, "frame_steps": result.frame_steps, "steps": result.steps,
        "wall_s": result.wall_s, "extra": result.extra, "recording": traces,
        "output_spikes": result.output_spikes is not None})


def _read_result(folder: Path) -> "SimulationResult":
    from neurodeploy.core.results import SimulationResult
    from neurodeploy.core.trace import LayerTrace

    data = json.loads((folder / _RESULT).read_text())
    with np.load(folder / _ARRAYS, allow_pickle=False) as arrays:
        recording = None if data["recording"] is None else {
            trace["name"]: LayerTrace(trace["hops"], arrays[f"spikes{index}"],
                                      arrays[f"voltage{index}"] if trace["voltage"] else None)
            for index, trace in enumerate(data["recording"])}
        return SimulationResult(data["backend"], arrays["output_counts"], data["spikes_per_layer"],
                                data["neurons_per_layer"], data["frame_steps"], data["steps"], data["wall_s"],
                                recording=recording,
                                output_spikes=arrays["output_spikes"] if data["output_spikes"] else None,
                                extra=data["extra"])


def _error_of(data: dict[str, str]) -> NeurodeployError:
    """The worker's error as the same NeurodeployError type, where this side knows it."""
    from importlib import import_module

    for module in ERROR_MODULES:
        kind = getattr(import_module(module), data["type"], None)
        if isinstance(kind, type) and issubclass(kind, NeurodeployError):
            return kind(data["message"])
    return NeurodeployError(data["message"])


# --- the worker: the other interpreter ------------------------------------------------------

def serve(folder: Path) -> None:
    """Run the request in ``folder`` on Lava and write its result, or its error, there."""
    from neurodeploy.core.atomic import write_json

    try:
        request = json.loads((folder / _REQUEST).read_text())
        if request["version"] != neurodeploy_version():
            raise NeurodeployError(f"the Lava worker's neurodeploy is {neurodeploy_version()} and the caller's "
                                   f"{request['version']}: install the same version in both environments")
        if request["quiet"]:
            from neurodeploy.core.progress import set_quiet

            set_quiet(True)
        result = _serve(folder, request)
    except NeurodeployError as error:
        write_json(folder / _ERROR, {"type": type(error).__name__, "message": str(error)})
        return
    _write_result(folder, result)


def _serve(folder: Path, request: dict[str, Any]) -> "SimulationResult":
    from neurodeploy.backends.lavasim.runner import run_on_lava
    from neurodeploy.core.netxfile import read_netx

    network = replace(read_netx(folder / _NETWORK), path=Path(request["network"]["path"]))
    shape = request["network"]["input_shape"]
    if shape is not None and network.input_shape != tuple(shape):  # the caller's network was given one
        network = network.with_input_shape(tuple(shape))
    options = request["options"]
    return run_on_lava(network, _read_inputs(folder / _INPUTS, request["inputs"]), timeout_s=options["timeout_s"],
                       record_layers=options["record"], reset=options["reset"],
                       reset_interval=options["reset_interval"], keep_output=options["keep_output"])


def _stop_without_client() -> None:
    """When the client is gone (killed outright), stop as after Ctrl-C; then kill the group."""
    client = os.getppid()
    while os.getppid() == client:
        time.sleep(POLL_S)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(STOP_GRACE_S)
    os.killpg(os.getpgrp(), signal.SIGKILL)


if __name__ == "__main__":
    threading.Thread(target=_stop_without_client, name="client-watch", daemon=True).start()
    try:
        serve(Path(sys.argv[1]))
    except KeyboardInterrupt:  # stopped by the client: it reports why
        sys.exit(130)
    # Done: the result is written and Lava stopped; the interpreter's teardown of torch and
    # Lava would only add to every call.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
