"""Whether ``train`` resumes the checkpoint in its run folder, and the line that says so.

A checkpoint is resumed on its own only when it is the same run: the same config (epochs
aside), the same number of training processes, and no more epochs done than asked. Anything
else is the user's choice, never a silent return of an old model: ``--fresh`` trains from
scratch (the checkpoint is replaced when the first epoch ends), ``--resume`` continues it on
another number of processes. What a checkpoint holds is also written beside it as a small
JSON (:data:`SIDECAR_SUFFIX`), so ``check`` says what ``train`` will do or refuse without
importing torch.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from neurodeploy.core.config import ExperimentConfig
from neurodeploy.core.errors import ConfigError, shown

RESUME_MODES = ("auto", "resume", "fresh")
SIDECAR_SUFFIX = ".json"


@dataclass(frozen=True)
class Saved:
    """What a checkpoint says about the run that made it."""

    epoch: int
    identity: dict[str, Any]
    world_size: int = 1

    @classmethod
    def of_state(cls, state: dict[str, Any]) -> "Saved":
        """From a loaded checkpoint (one written before ``world_size`` was kept: one process)."""
        return cls(int(state["epoch"]), state.get("identity") or {}, int(state.get("world_size", 1)))


def identity(config: ExperimentConfig) -> dict[str, Any]:
    """The parts of the config a checkpoint must agree with to be resumed (all but the
    epochs, the run's name and folder, and what is done after training)."""
    dumped = config.dump()
    return {key: dumped[key] for key in ("seed", "data", "encoding", "model", "dassdp")} | {
        "train": {key: value for key, value in dumped["train"].items() if key != "epochs"}}


def sidecar_path(checkpoint: Path) -> Path:
    return Path(checkpoint).with_suffix(SIDECAR_SUFFIX)


def write_sidecar(checkpoint: Path, saved: Saved) -> None:
    from neurodeploy.core.atomic import write_json

    write_json(sidecar_path(checkpoint), asdict(saved))


def read_sidecar(checkpoint: Path) -> Optional[Saved]:
    """The JSON beside ``checkpoint``; ``None`` when there is none or it is unreadable (then
    ``train`` decides from the checkpoint itself)."""
    try:
        raw = json.loads(sidecar_path(checkpoint).read_text())
        return Saved(int(raw["epoch"]), dict(raw["identity"]), int(raw.get("world_size", 1)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def resume_from(checkpoint: Path, saved: Optional[Saved], config: ExperimentConfig, world_size: int,
                mode: str = "auto") -> int:
    """The epoch training starts from (0: from scratch), or a :class:`ConfigError` naming
    the choice when resuming is not obviously what was meant."""
    if mode not in RESUME_MODES:
        raise ConfigError(f"resume mode {mode!r}: expected one of {RESUME_MODES}")
    if saved is None or mode == "fresh":
        return 0
    changed = _differences(_plain(saved.identity), _plain(identity(config)))
    if changed:
        raise ConfigError(f"{checkpoint}: made with a different config ({changed}); --fresh trains from "
                          f"scratch in this folder (replacing it), or -o names another folder")
    epochs = config.train.epochs
    if saved.epoch > epochs:
        raise ConfigError(f"{checkpoint}: has {saved.epoch} epochs, more than train.epochs={epochs}; "
                          f"--fresh trains {epochs} from scratch (replacing it), or -o names another folder")
    if saved.world_size != world_size and mode != "resume":
        raise ConfigError(f"{checkpoint}: trained by {_processes(saved.world_size)}, this run has "
                          f"{_processes(world_size)}; --resume continues it, --fresh trains from scratch")
    return saved.epoch


def world_size() -> int:
    """Training processes of this run: torchrun's ``WORLD_SIZE``, else one."""
    import os

    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        try:
            return max(int(os.environ["WORLD_SIZE"]), 1)
        except ValueError:
            return 1
    return 1


def resume_line(checkpoint: Path, epoch: int, epochs: int) -> str:
    """The one line ``train`` prints when it resumes."""
    if epoch >= epochs:
        return (f"{checkpoint} already holds all {epochs} epochs: using its model, nothing to train "
                f"(--fresh trains again)")
    return f"resuming {checkpoint} from epoch {epoch} of {epochs} (--fresh trains from scratch)"


def _processes(count: int) -> str:
    return "1 process" if count == 1 else f"{count} processes (torchrun)"


def _plain(value: Any) -> Any:
    """JSON's view of a value, so a checkpoint's identity and a sidecar's compare alike."""
    return json.loads(json.dumps(value))


def _differences(saved: Any, now: Any, prefix: str = "", limit: int = 3) -> str:
    """``train.lr: 0.003 then, 0.01 now`` for up to ``limit`` keys that differ."""
    found: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in dict.fromkeys([*a, *b]):
                walk(a.get(key), b.get(key), f"{where}.{key}" if where else str(key))
        elif a != b:
            found.append(f"{where}: {shown(a, 40)} then, {shown(b, 40)} now")

    walk(saved, now, prefix)
    return "; ".join(found[:limit]) + (f"; {len(found) - limit} more" if len(found) > limit else "")
