"""netx's own builder as ground truth: does ``netx.hdf5.Network`` build this file?

A malformed file can crash Lava or h5py outright (issue 24 counted segmentation faults),
so the build runs in a child process that imports lava-dl once and answers one file per
request; a child that dies or runs past its timeout is reported as "netx cannot build
it" and replaced. ``input_shape`` is passed only for a network whose first layer is a
conv, as neurodeploy's Lava runner passes it (netx cannot infer it there).
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

#: Seconds the child may take to import lava-dl, and to build one network.
START_TIMEOUT_S = 120.0
BUILD_TIMEOUT_S = 60.0

_CHILD = r"""
import json, os, sys
answers = os.fdopen(os.dup(1), "w")
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)   # netx prints warnings on stdout
from lava.lib.dl import netx
answers.write("ready\n"); answers.flush()
for line in sys.stdin:
    request = json.loads(line)
    shape = request["input_shape"]
    try:
        network = netx.hdf5.Network(net_config=request["path"], input_shape=tuple(shape) if shape else None)
        network.net_config.f.close()
        answer = {"built": True, "blocks": [type(layer).__name__ for layer in network.layers]}
    except BaseException as error:
        answer = {"built": False, "error": f"{type(error).__name__}: {str(error)[:300]}"}
    answers.write(json.dumps(answer) + "\n"); answers.flush()
"""


@dataclass(frozen=True)
class Verdict:
    """What netx made of one file: its blocks, or why it could not build them."""

    built: bool
    blocks: tuple[str, ...] = ()
    error: str = ""


class NetxOracle:
    """A child process that builds networks with netx, one request at a time."""

    def __init__(self) -> None:
        self._child: Optional[subprocess.Popen] = None

    def build(self, path: str | Path, input_shape: Optional[tuple[int, ...]] = None) -> Verdict:
        """Whether ``netx.hdf5.Network(path, input_shape=...)`` builds (WHC shape)."""
        child = self._started()
        request = {"path": str(path), "input_shape": list(input_shape) if input_shape else None}
        try:
            child.stdin.write(json.dumps(request) + "\n")
            child.stdin.flush()
            line = self._line(child, BUILD_TIMEOUT_S)
        except (BrokenPipeError, OSError):
            line = None
        if line is None:
            code = self.close()
            return Verdict(False, error=f"netx's child process died or hung (exit code {code})")
        answer = json.loads(line)
        return Verdict(answer["built"], tuple(answer.get("blocks", ())), answer.get("error", ""))

    def close(self) -> Optional[int]:
        """Stop the child; its exit code (negative: the signal that ended it)."""
        child, self._child = self._child, None
        if child is None:
            return None
        if child.poll() is None:
            child.kill()
        code = child.wait()
        for stream in (child.stdin, child.stdout):
            stream.close()
        return code

    def _started(self) -> subprocess.Popen:
        if self._child is not None and self._child.poll() is None:
            return self._child
        self.close()
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self._child = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                       env=env)
        if self._line(self._child, START_TIMEOUT_S) != "ready":
            code = self.close()
            raise RuntimeError(f"netx's child process did not start (exit code {code})")
        return self._child

    @staticmethod
    def _line(child: subprocess.Popen, timeout_s: float) -> Optional[str]:
        ready, _, _ = select.select([child.stdout], [], [], timeout_s)
        line = child.stdout.readline() if ready else ""
        return line.strip() if line else None


@functools.lru_cache(maxsize=None)
def shared() -> NetxOracle:
    """One builder for the whole test process (importing lava-dl takes seconds), stopped at exit."""
    oracle = NetxOracle()
    atexit.register(oracle.close)
    return oracle


def first_conv_input(path: str | Path) -> Optional[tuple[int, ...]]:
    """The input (WHC) neurodeploy gives netx for ``path``: the one it reads for a network
    that starts with a conv layer, else none."""
    from neurodeploy.core.netxfile import read_netx

    network = read_netx(path)
    return network.input_shape if network.layers[0].type == "conv" else None
