"""Run ``neurodeploy.app.cli.main`` in-process on hostile input and check how it ends.

In-process calls (captured output, a per-case alarm) instead of subprocesses, so that
thousands of cases fit in minutes. What every case must satisfy (``assert_clean``):

- the exit code is 0, 1 or 2, and the command returned or raised SystemExit (anything
  else would have been a traceback);
- stderr holds at most one error line, no ``Traceback``, and no line longer than
  :data:`MAX_LINE`;
- it finished within :data:`CASE_TIMEOUT_S` (an alarm interrupts a hang);
- the output folder holds no temporary ``.partial`` file, and nothing at all when the
  command refused its input (exit 2).

The default suite runs a tenth of the cases; ``NEURODEPLOY_FUZZ_SCALE=1`` runs them all
(over 2,000; ``benchmarks/fuzz_suite.py`` does, and counts them through
``NEURODEPLOY_FUZZ_TALLY=FILE``, which appends one line per case to FILE).
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from neurodeploy.app.cli import main

CASE_TIMEOUT_S = 30.0
MAX_LINE = 500
EXIT_CODES = (0, 1, 2)
#: Settings of every fuzz test: no example database, no per-example deadline (the alarm
#: is the hang check), derandomised so a failure reproduces.
FUZZ = dict(deadline=None, database=None, derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                   HealthCheck.function_scoped_fixture])


SCALE = float(os.environ.get("NEURODEPLOY_FUZZ_SCALE", 0.1))


def fuzz_settings(examples: int) -> settings:
    """``examples`` cases at full scale, a share of them by default."""
    return settings(max_examples=max(10, int(examples * SCALE)), **FUZZ)


class Hang(Exception):
    """A case ran past its alarm."""


@dataclass(frozen=True)
class Outcome:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"neurodeploy {' '.join(self.args)} -> {self.code}\nstderr: {self.stderr[-1500:]}"


def run_cli(args: Iterable[Any], timeout_s: float = CASE_TIMEOUT_S) -> Outcome:
    """``neurodeploy ARGS`` in this process; an exception other than SystemExit propagates."""
    args = tuple(str(arg) for arg in args)
    out, err = io.StringIO(), io.StringIO()

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"neurodeploy {' '.join(args)} ran past {timeout_s} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    _tally(args, code)
    return Outcome(args, code, out.getvalue(), err.getvalue())


def assert_clean(outcome: Outcome, output: Optional[Path] = None, codes: tuple[int, ...] = EXIT_CODES) -> None:
    """The rules above; ``output`` is the folder the command may write into."""
    assert outcome.code in codes, str(outcome)
    assert "Traceback" not in outcome.stderr + outcome.stdout, str(outcome)
    errors = [line for line in outcome.stderr.splitlines() if line.startswith(("error", "Error"))]
    assert len(errors) <= 1, str(outcome)
    assert all(len(line) <= MAX_LINE for line in outcome.stderr.splitlines()), str(outcome)
    if outcome.code == 2:
        assert errors, str(outcome)
    if output is not None and output.exists():
        left = sorted(path.name for path in output.rglob("*") if path.is_file())
        assert not [name for name in left if ".partial" in name], (str(outcome), left)
        if outcome.code == 2:
            assert not left, (str(outcome), left)


def record(label: str, value: int) -> None:
    """Count a verdict beside the commands in the tally file (netx's, for ``.net`` cases)."""
    _tally((label,), value)


def _tally(args: tuple[str, ...], code: int) -> None:
    target = os.environ.get("NEURODEPLOY_FUZZ_TALLY")
    if target:
        with open(target, "a") as stream:
            stream.write(f"{args[0] if args else '-'} {code}\n")


# --- hostile values ---------------------------------------------------------------------

#: Numbers and things that are not numbers, as a user's file may hold them.
HOSTILE_NUMBERS = [math.nan, math.inf, -math.inf, -1, 0, 1, -(2 ** 31), 2 ** 31, 2 ** 62, 2 ** 70,
                   1e300, -1e300, 0.5, 2.5, 1e-300, True, False]
HOSTILE_VALUES = HOSTILE_NUMBERS + ["", "abc", "1", "nan", "x" * 5000, None, [], {}, [1, 2], [[1]],
                                    {"a": 1}, [None], ["a", "b"]]

hostile = st.sampled_from(HOSTILE_VALUES)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def command_files(folder: Path, config: dict) -> dict[str, Path]:
    """What the hostile-input and hostile-output tests hand the commands: a small netx file
    with its manifest, spikes that fit it, a config, and where a NIR graph would go."""
    import numpy as np

    from tests import netx_factory as nf
    from tests.conftest import write_config

    net = nf.write_netx(folder / "model.net", [nf.dense_layer(np.full((8, 6), 2.0)), nf.dense_layer(np.full((3, 8), 2.0))])
    nf.write_manifest(net, input_shape=(1, 2, 3))
    spikes = folder / "spikes.npy"
    np.save(spikes, np.random.default_rng(0).random((2, 4, 6)) < 0.3)
    return {"net": net, "spikes": spikes, "config": write_config(folder, config), "graph": folder / "g.nir",
            "folder": folder}
