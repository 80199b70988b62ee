"""The experiment config: one YAML file shared by train, export, simulate and run.

Declared with :mod:`neurodeploy.core.schema` (the checker of profiles and manifests too):
strict types and finite numbers, so an unknown key, a wrong type or a value out of range
is an error that names the file (or the ``--set`` that brought it), the key path, the
value (cut short) and what was expected, with the key it probably misspells. Sizes are
bounded so that a config cannot ask for more steps, neurons or seeds than anything
downstream can run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from neurodeploy.core.encoding.schedule import ENCODINGS, MAX_BITS, ORDERS, PLANE_FILLS, FrameSchedule
from neurodeploy.core.errors import ConfigError, shown
from neurodeploy.core.schema import (Invalid, Node, choice, field, flag, integer, list_of, node, optional, real, section,
                                text)

#: Most steps one encoded sample may take (training unrolls them all in memory).
MAX_FRAME_STEPS = 4096
#: Widest layer and largest kernel a config may ask for.
MAX_WIDTH = 1 << 16
MAX_KERNEL = 64
#: The data sets ``data.dataset`` may name.
DATASETS = ("digits", "mnist5k", "cifar10", "cifar100", "mnist", "folder")

STEPS = integer(1, MAX_FRAME_STEPS)
POSITIVE = real(above=0)
SHARE = real(at_least=0, at_most=1)
NAMES = list_of(text())


class DataConfig(Node):
    """Where the images come from and how they are split."""

    dataset = field(choice(*DATASETS), "digits")
    path = field(optional(text()), None)
    test_fraction = field(real(above=0, below=1), 0.2)
    limit = field(optional(integer(1)), None, doc="keep only the first N samples")


class EncodingConfig(Node):
    """The frame schedule's fields; ``gap: null`` means the network's hop count."""

    encoding = field(choice(*ENCODINGS), "temporal_bit")
    temporal_steps = field(STEPS, 8)
    n_bits = field(integer(1, MAX_BITS), 8, doc="bits per pixel: uint8 images up to 8, uint16 up to 16")
    steps_per_plane = field(STEPS, 1)
    gap = field(optional(integer(0, MAX_FRAME_STEPS)), None)
    order = field(choice(*ORDERS), "msb_first")
    plane_fill = field(choice(*PLANE_FILLS), "first")
    drop_lsb = field(integer(0, MAX_BITS), 0)

    def _whole(self, where: str) -> None:
        if self.drop_lsb >= self.n_bits:
            raise Invalid("value", f"{where}drop_lsb", f"should be less than n_bits={self.n_bits}", self.drop_lsb)
        frame_steps = self.schedule(hops=0).frame_steps
        if frame_steps > MAX_FRAME_STEPS:
            raise Invalid("value", where.rstrip(".") or "(top level)",
                          f"a frame of {frame_steps} steps (temporal_steps + planes x steps_per_plane + gap) "
                          f"is more than {MAX_FRAME_STEPS}", self.dump())

    def schedule(self, hops: int) -> FrameSchedule:
        fields = self.dump()
        fields["gap"] = hops if self.gap is None else self.gap
        return FrameSchedule(**fields)


class NeuronConfig(Node):
    """lava-dl CUBA neuron parameters (the contract between training and deployment)."""

    threshold = field(POSITIVE, 1.25)
    current_decay = field(SHARE, 0.25)
    voltage_decay = field(SHARE, 0.03)
    tau_grad = field(POSITIVE, 0.03)
    scale_grad = field(POSITIVE, 3.0)
    requires_grad = field(flag, False)


class ConvLayerConfig(Node):
    channels = field(integer(1, MAX_WIDTH))
    kernel = field(integer(1, MAX_KERNEL), 3)
    stride = field(integer(1, MAX_KERNEL), 2)
    padding = field(integer(0, MAX_KERNEL), 1)


class ModelConfig(Node):
    """A dense stack, or strided convolutions then a dense stack (netx 0.6 has no pooling)."""

    conv = field(list_of(node(ConvLayerConfig)), [])
    hidden = field(list_of(integer(1, MAX_WIDTH)), [128])
    neuron = section(NeuronConfig, optional=True)
    weight_norm = field(flag, False)


class TrainConfig(Node):
    epochs = field(integer(1, 100_000), 15)
    batch_size = field(integer(1, MAX_WIDTH), 32)
    lr = field(POSITIVE, 3e-3)
    true_rate = field(real(above=0, at_most=1), 0.5)
    false_rate = field(SHARE, 0.05)
    device = field(choice("auto", "cpu", "cuda"), "auto")


class DassdpConfig(Node):
    """DA-SSDP plug-in settings (dassdp.md, docs/dassdp.md); off by default.

    ``A_plus`` and ``A_base`` are in ``amplitude_unit``: weight steps (SLAYER's 8-bit
    quantisation step ``2 / w_scale``, one step of the deployed weights) by default, so the
    rule's strength does not depend on the float weight scale. 0.048 and 0.016 steps are
    the reference's 1.5e-3 and 5e-4 at lava-dl's default ``w_scale`` of 64.
    """

    enabled = field(flag, False)
    layers = field(NAMES, [])
    warmup_epochs = field(integer(0), 2)
    A_plus = field(real(at_least=0), 0.048)
    A_base = field(real(at_least=0), 0.016)
    amplitude_unit = field(choice("weight_step", "float"), "weight_step")
    sigma = field(POSITIVE, 1.0)
    co_silent = field(choice("skip", "reference"), "skip",
                      doc="pairs where neither neuron spiked: no update, or the reference's -A_base")
    gate = field(choice("continuous", "sign", "one"), "continuous")
    gate_clamp = field(flag, True, doc="clamp the gate to [0, 2] as the reference does")
    warmup_loss = field(choice("batch_mean", "per_sample"), "batch_mean",
                        doc="the loss the warm-up correlates with synchrony")
    t_epoch = field(optional(integer(1)), None, doc="Lava learning window; default: the frame")
    online_batch = field(optional(integer(1)), None,
                         doc="Lava learning epochs per online step (their mean is applied); default train.batch_size")


class SimulateConfig(Node):
    samples = field(optional(integer(1)), None, doc="test samples run on Lava; default all")
    timeout_s = field(optional(real(above=0, at_most=1e6)), None,
                      doc="wall-clock limit for one Lava run; default none (a run with no new time step for 30 s "
                          "is hung)")


class ExperimentConfig(Node):
    name = field(text(), "experiment")
    seed = field(integer(0, 2 ** 32 - 1), 0, doc="numpy's seed range")
    output = field(optional(text()), None, doc="run folder; default runs/<name>")
    data = section(DataConfig, optional=True)
    encoding = section(EncodingConfig, optional=True)
    model = section(ModelConfig, optional=True)
    train = section(TrainConfig, optional=True)
    dassdp = section(DassdpConfig, optional=True)
    simulate = section(SimulateConfig, optional=True)
    hardware = field(NAMES, ["loihi1", "loihi2"], doc="profiles `run` validates against")

    def _whole(self, where: str) -> None:
        if self.dassdp.enabled and self.dassdp.warmup_epochs >= self.train.epochs:
            raise Invalid("value", f"{where}dassdp.warmup_epochs",
                          f"should be less than train.epochs={self.train.epochs}, to leave an epoch for plasticity",
                          self.dassdp.warmup_epochs)
        if self.output is None:  # runs/<name>: only a name that is one folder name can choose the folder
            if self.name in ("", ".", "..") or any(char in self.name for char in "/\\\0"):
                raise Invalid("value", f"{where}name", "names the run folder runs/<name> when output is not set: "
                              "expected one folder name (no '/'), or set output", self.name)
            object.__setattr__(self, "output", f"runs/{self.name}")
        if self.dassdp.online_batch is None:  # resolved here, so the manifest records the value used
            object.__setattr__(self, "dassdp", self.dassdp.replace(online_batch=self.train.batch_size))


def load_config(path: str | Path, overrides: Optional[dict[str, Any]] = None) -> ExperimentConfig:
    """Read and validate a YAML config; ``overrides`` are dotted keys, e.g. ``{"train.epochs": 1}``."""
    from neurodeploy.core.yamlfile import read_yaml

    path = Path(path)
    raw = read_yaml(path, "config file")
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level is {type(raw).__name__}; expected a mapping")
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    return parse_config(raw, source=str(path), overrides=overrides)


def parse_config(raw: dict[str, Any], source: str = "config",
                 overrides: Optional[dict[str, Any]] = None) -> ExperimentConfig:
    """Validate a config mapping; an error names ``source``, or the ``--set`` it came from."""
    try:
        return ExperimentConfig.read(raw)
    except Invalid as error:
        origin = next((f"--set {key}={shown(value)}" for key, value in (overrides or {}).items()
                       if _related(key, error.where)), source)
        raise ConfigError(f"{origin}: {error.describe()}") from None


def _related(override: str, where: str) -> bool:
    """Whether the dotted key ``override`` set the value at ``where`` (or a part of it)."""
    return override == where or override.startswith(where + ".") or where.startswith(override + ".")


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Put ``value`` at ``a.b.c``; a part that is already a value, not a section, is an error."""
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"--set {shown(dotted)}: expected a dotted key such as train.epochs")
    at: Any = raw
    for depth, key in enumerate(parts):
        parent = ".".join(parts[:depth])
        if isinstance(at, list) and key.isdigit() and int(key) < len(at):
            key = int(key)  # model.conv.0.kernel: the first conv layer's kernel
        elif not isinstance(at, dict):
            raise ConfigError(f"--set {shown(dotted)}: '{parent}' is the value {shown(at)}, "
                              f"not a section with keys")
        if depth == len(parts) - 1:
            at[key] = value
        else:
            at = at.setdefault(key, {}) if isinstance(at, dict) else at[key]
