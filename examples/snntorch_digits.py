"""snnTorch -> NIR -> Loihi, end to end on the embedded digits (no download).

Trains snnTorch Linear + Leaky layers on rate-coded digits (neurodeploy's own encoder, so
every backend sees the same spikes), exports with snnTorch's ``export_to_nir``, imports
the graph here with snnTorch's conventions (``--from snntorch``; ``dt = 1e-4``, the step its
exporter assumes), validates it against the Loihi 2 profile, and runs the whole test split on snnTorch, the float NIR reference,
the emulator and Lava fixed_pt. Prints one JSON line of accuracies and agreements.

    .venv/bin/python examples/snntorch_digits.py [--out runs/snntorch] [--epochs 25]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

DT = 1e-4                       # snnTorch's export_to_nir writes tau = dt / (1 - beta) with this dt
HIDDEN, CLASSES, STEPS = 64, 10, 16


def network() -> torch.nn.Module:
    import snntorch as snn

    def leaky(n: int, output: bool = False) -> torch.nn.Module:
        # per-neuron tensors: snnTorch exports scalar beta/threshold without a shape (NIR#176)
        return snn.Leaky(beta=torch.full((n,), 0.8), threshold=torch.ones(n), init_hidden=True,
                         reset_mechanism="zero", output=output)

    return torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), leaky(HIDDEN),
                               torch.nn.Linear(HIDDEN, CLASSES), leaky(CLASSES, output=True))


def run_snntorch(model: torch.nn.Module, spikes: torch.Tensor) -> torch.Tensor:
    """Output spikes ``(N, T, classes)`` for ``spikes`` ``(N, T, 64)``."""
    import snntorch.utils

    snntorch.utils.reset(model)
    out = []
    for step in range(spikes.shape[1]):
        spk, _ = model(spikes[:, step])
        out.append(spk)
    return torch.stack(out, dim=1)


def main() -> None:
    from snntorch.export_nir import export_to_nir
    import nir

    from neurodeploy.core.config import DataConfig
    from neurodeploy.core.data import load_split
    from neurodeploy.core.encoding import FrameSchedule, encode
    from neurodeploy.hardware.validate import validate_file
    from neurodeploy.interop.fidelity import fidelity
    from neurodeploy.interop.files import import_nir_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/snntorch")
    parser.add_argument("--epochs", type=int, default=25)
    args = parser.parse_args()
    out = Path(args.out)
    torch.manual_seed(0)
    split = load_split(DataConfig(dataset="digits"), 0)
    schedule = FrameSchedule(encoding="rate", temporal_steps=STEPS, gap=2)   # gap: 2 hops of latency
    as_steps = lambda images, seed: encode(images, schedule, seed=seed).movedim(-1, 1).reshape(  # noqa: E731
        len(images), schedule.frame_steps, -1)
    train_spikes, train_labels = as_steps(split.train.images, 1), torch.as_tensor(split.train.labels)
    test_spikes = as_steps(split.test.images, 0)   # seed 0: the manifest's, as `import-nir --dataset` draws them
    decode = schedule.frame_steps - 2

    model = network()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(args.epochs):
        for batch in torch.randperm(len(train_spikes)).split(64):
            counts = run_snntorch(model, train_spikes[batch])[:, :decode].sum(dim=1)
            loss = torch.nn.functional.cross_entropy(counts, train_labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        snn_pred = run_snntorch(model, test_spikes)[:, :decode].sum(dim=1).argmax(dim=1).numpy()

    out.mkdir(parents=True, exist_ok=True)
    graph = export_to_nir(model, torch.zeros(64))
    nir.write(out / "model.nir", graph)
    result = import_nir_file(out / "model.nir", out / "model.net", dt=DT, image_shape=(1, 8, 8),
                             temporal_steps=STEPS, gap=2, data=DataConfig(dataset="digits"), framework="snntorch")
    verdict = validate_file(result.network_file, "loihi2", None, None)
    report = fidelity(result.network, result.network_file, test_spikes.bool().numpy(), split.test.labels,
                      lava=True, timeout_s=900)
    labels = split.test.labels
    summary = {
        "samples": len(labels), "snntorch_accuracy": float(np.mean(snn_pred == labels)),
        **{f"{name}_accuracy": value for name, value in report.accuracy.items()},
        "snntorch_float_agreement": float(np.mean(snn_pred == report_predictions(result, test_spikes, decode))),
        **report.agreement, "validate_exit_code": verdict.exit_code,
        "worst_quantisation_error": {f"{e.layer}.{e.parameter}": round(e.relative, 5)
                                     for e in report.quantisation},
    }
    print(json.dumps(summary))


def report_predictions(result, test_spikes: torch.Tensor, decode: int) -> np.ndarray:
    from neurodeploy.interop.fidelity import float_predictions

    return float_predictions(result.network, test_spikes.bool().numpy(), decode)[0]


if __name__ == "__main__":
    main()
