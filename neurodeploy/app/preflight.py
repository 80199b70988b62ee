"""Everything ``train`` and ``run`` need, checked in one pass before any work starts.

The config (and its ``--set`` overrides), the hardware profiles it names, the run folder
(created and written to once) and the data set (both splits, one image shape, a split
every class survives, convolutions that fit the images) are checked here, before torch
or Lava is imported: a mistake costs a second, not an epoch of training.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from neurodeploy.core.atomic import check_writable
from neurodeploy.core.config import ExperimentConfig, ModelConfig, load_config
from neurodeploy.core.data import Split, load_split
from neurodeploy.core.errors import ConfigError
from neurodeploy.training.checkpoint import CHECKPOINT_NAME
from neurodeploy.training.resume import read_sidecar, resume_from, world_size
from neurodeploy.core.runtime import chosen_dynamics


@dataclass(frozen=True)
class Checked:
    """A config whose inputs and outputs were all found usable."""

    config: ExperimentConfig
    run_dir: Path
    split: Split
    start_epoch: Optional[int] = 0  # from the run folder's checkpoint; None: known once train loads it

    @property
    def summary(self) -> str:
        split, config = self.split, self.config
        epochs = config.train.epochs
        plan = (f"check its {CHECKPOINT_NAME} when training loads it" if self.start_epoch is None else
                f"train {epochs} epochs" if not self.start_epoch else
                f"resume its checkpoint from epoch {self.start_epoch} of {epochs}" if self.start_epoch < epochs else
                f"use its checkpoint's {epochs} epochs (--fresh trains again)")
        return (f"{config.name}: {config.data.dataset} {len(split.train)} train / {len(split.test)} test "
                f"images of shape {split.input_shape}, {split.num_classes} classes; run folder "
                f"{self.run_dir} is writable, will {plan}; profiles {', '.join(config.hardware) or 'none'} load")


def preflight(config_path: str, overrides: Optional[dict[str, Any]] = None,
              output: Optional[str] = None, resume: str = "auto") -> Checked:
    """Check the config, profiles, run folder (and the checkpoint in it: what training will
    resume or refuse) and data; raise the first problem found."""
    config = load_config(config_path, overrides)
    chosen_dynamics()
    check_profiles(config.hardware)
    run_dir = check_writable(Path(output or config.output), "run folder")
    checkpoint = run_dir / CHECKPOINT_NAME
    saved = read_sidecar(checkpoint)
    start_epoch = resume_from(checkpoint, saved, config, world_size(), resume)
    if saved is None and checkpoint.exists() and resume != "fresh":
        start_epoch = None  # a checkpoint without its JSON (older): train decides once it loads it
    split = load_split(config.data, config.seed)
    check_model_fits(config.model, split.input_shape)
    return Checked(config, run_dir, split, start_epoch)


def check_profiles(names: list[str]) -> None:
    """Every profile named under ``hardware:`` loads (a misspelt name says what it meant)."""
    from neurodeploy.hardware.profile import load_profile

    for name in names:
        try:
            load_profile(name)
        except ConfigError as error:
            raise ConfigError(f"hardware: {error}") from None


def check_model_fits(model: ModelConfig, input_shape: tuple[int, ...]) -> None:
    """Each convolution's kernel fits the (padded) image it slides over."""
    height, width = input_shape[1:]
    for index, conv in enumerate(model.conv):
        padded = min(height, width) + 2 * conv.padding
        if conv.kernel > padded:
            raise ConfigError(f"model.conv[{index}].kernel={conv.kernel} is larger than its "
                              f"{height}x{width} input plus padding {conv.padding} "
                              f"(at most {padded})")
        height = (height + 2 * conv.padding - conv.kernel) // conv.stride + 1
        width = (width + 2 * conv.padding - conv.kernel) // conv.stride + 1
