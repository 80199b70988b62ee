"""Read training checkpoints without running code from them.

A ``checkpoint.pt`` travels with run folders, so it is input like any other file, and
``torch.load`` unpickles: a pickle may call any function while it loads. Every reader
(training resuming, ``export``, ``parity --checkpoint``) comes through
:func:`load_checkpoint`, which loads with ``weights_only=True``: torch's restricted
unpickler builds tensors, dicts, lists, tuples, numbers and strings and refuses any other
object before calling it. That is all a checkpoint holds (see ``train._save_checkpoint``).
Anything else (a hostile pickle, a corrupt or truncated file, a FIFO) is one
:class:`~neurodeploy.core.errors.NeurodeployError` line naming the file.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from neurodeploy.core.config import MAX_WIDTH
from neurodeploy.core.errors import NeurodeployError, shown
from neurodeploy.core.paths import input_file, shown_path

if TYPE_CHECKING:
    from neurodeploy.core.config import ExperimentConfig
    from neurodeploy.training.network import SpikingNetwork

CHECKPOINT_NAME = "checkpoint.pt"
#: What every checkpoint holds, with the types a reader relies on.
REQUIRED = {"epoch": int, "model": dict, "config": dict, "input_shape": (tuple, list), "num_classes": int}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` as plain data; nothing in it is executed."""
    import torch

    path = input_file(path, "checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 (torch raises a dozen types on hostile or corrupt bytes)
        raise NeurodeployError(f"{shown_path(path)}: not a neurodeploy checkpoint that loads as plain "
                               f"data ({_gist(error)})") from None
    if not isinstance(state, dict):
        raise NeurodeployError(f"{shown_path(path)}: holds a {type(state).__name__}; expected a neurodeploy "
                               f"checkpoint (a dict)")
    for key, kind in REQUIRED.items():
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise NeurodeployError(f"{shown_path(path)}: key {key!r} is {type(state.get(key)).__name__}; "
                                   f"not a neurodeploy checkpoint")
    sizes = [*state["input_shape"], state["num_classes"]]
    if len(sizes) != 4 or not all(type(size) is int and 1 <= size <= MAX_WIDTH for size in sizes):
        raise NeurodeployError(f"{shown_path(path)}: input_shape {shown(state['input_shape'])} and num_classes "
                               f"{shown(state['num_classes'])}; expected (C, H, W) and a count, each 1..{MAX_WIDTH}")
    return state


def checkpoint_network(path: str | Path) -> tuple["SpikingNetwork", "ExperimentConfig"]:
    """The trained SpikingNetwork a checkpoint holds (in eval mode) and its config."""
    from neurodeploy.core.config import parse_config
    from neurodeploy.training.network import SpikingNetwork

    state = load_checkpoint(path)
    config = parse_config(state["config"], source=str(path))
    try:
        network = SpikingNetwork(config.model, tuple(state["input_shape"]), state["num_classes"])
        network.load_state_dict(state["model"])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as error:
        raise NeurodeployError(f"{shown_path(path)}: its weights do not fit the network its config "
                               f"describes ({_gist(error)})") from None
    return network.eval(), config


def trained_network(checkpoint: "str | Path | SpikingNetwork") -> "SpikingNetwork":
    """The network a checkpoint path holds (:func:`checkpoint_network`), or ``checkpoint``
    itself when it is one already: what parity and its Ray and CLI paths take."""
    return checkpoint_network(checkpoint)[0] if isinstance(checkpoint, (str, Path)) else checkpoint


def _gist(error: BaseException) -> str:
    """The first line of ``error`` that says what went wrong, cut short."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = next((line for line in lines if "Unsupported" in line or "not allowed" in line), lines[0] if lines else "")
    return f"{type(error).__name__}: {text[:160]}" if text else type(error).__name__
