"""Train, export and run small digits nets in one NIR framework (run inside its own venv).

    python frameworks.py FRAMEWORK OUT_DIR [--epochs N]

For each net the framework has (``dense``, ``conv`` with a bias, ``cuba``) it writes
``OUT_DIR/<framework>_<net>.nir`` as the framework's own exporter writes it (its crashes
worked around as :data:`WORKAROUNDS` says) and ``OUT_DIR/<framework>_<net>.json`` with the
source's output counts on the fixed test spikes. The spikes are ``OUT_DIR/spikes.npz``,
made here the same way in every venv (digits from scikit-learn, a seeded Bernoulli rate
code): every framework and the importer's tests see the same input.

Only numpy, torch, scikit-learn and the framework are needed; nothing of neurodeploy.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

STEPS, TEST, SEED, HIDDEN, CLASSES = 16, 200, 0, 64, 10
#: How each exporter's own failure is worked around (also in docs/nir.md).
WORKAROUNDS = {
    "snntorch": "export_to_nir fails on a conv net (IndexError in NIR's type inference of the conv padding); "
                "the graph is built with nirtorch.extract_nir_graph and snnTorch's own module "
                "mapping, then the Input and Conv2d shapes are filled in",
    "norse": "to_nir's scalar (0-d) parameters make nir.write fail (h5py: scalar datasets take "
             "no compression): they are written as 1-element arrays",
    "norse-flatten": "to_nir has no Flatten: nirtorch is given Norse's module mapping plus a Flatten",
    "sinabs": "to_nir leaves Input/Output/Flatten shapes empty, so nir.write fails: they are "
              "filled in before writing",
}


# --- data ---------------------------------------------------------------------------------

def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rate-coded digits: spikes ``(N, T, 1, 8, 8)`` bool and labels, train and test."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = data.images.astype(np.float64) / 16.0
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(images))
    spikes = rng.random((len(images), STEPS, 1, 8, 8)) < images[:, None, None]
    spikes, labels = spikes[order], data.target[order]
    return spikes[TEST:], labels[TEST:], spikes[:TEST], labels[:TEST]


def train(run, model: torch.nn.Module, spikes: np.ndarray, labels: np.ndarray, epochs: int,
          flat: bool) -> None:
    """Surrogate-gradient training on output spike counts (the framework's own gradients)."""
    torch.manual_seed(SEED)
    params = [p for p in torch.nn.Module.parameters(model) if p.requires_grad]   # Rockpool overrides .parameters()
    optimiser = torch.optim.Adam(params, lr=2e-3)
    x_all = torch.as_tensor(spikes, dtype=torch.float32)
    if flat:
        x_all = x_all.reshape(len(x_all), STEPS, -1)
    y_all = torch.as_tensor(labels)
    for _ in range(epochs):
        order = torch.randperm(len(x_all))
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            counts = run(model, x_all[batch]).sum(dim=1)
            loss = torch.nn.functional.cross_entropy(counts, y_all[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()


def counts_of(run, model: torch.nn.Module, spikes: np.ndarray, flat: bool) -> np.ndarray:
    x = torch.as_tensor(spikes, dtype=torch.float32)
    if flat:
        x = x.reshape(len(x), STEPS, -1)
    with torch.no_grad():
        return run(model, x).sum(dim=1).numpy().astype(np.int64)


# --- snnTorch -----------------------------------------------------------------------------

def snntorch_nets() -> dict:
    import snntorch as snn
    import snntorch.utils
    from snntorch import surrogate

    grad = surrogate.fast_sigmoid(slope=5)

    def leaky(n, output=False):
        return snn.Leaky(beta=torch.full((n,), 0.8), threshold=torch.ones(n), init_hidden=True,
                         reset_mechanism="zero", output=output, spike_grad=grad)

    def synaptic(n, output=False):
        # reset_delay=False: snnTorch's default delayed zero reset also drops the next step's
        # input, which Loihi (and NIR's v_reset) does not; the graph cannot say it
        return snn.Synaptic(alpha=torch.full((n,), 0.5), beta=torch.full((n,), 0.8), threshold=torch.ones(n),
                            init_hidden=True, reset_mechanism="zero", reset_delay=False, output=output,
                            spike_grad=grad)

    def run(model, x):
        snntorch.utils.reset(model)
        out = []
        for step in range(x.shape[1]):
            result = model(x[:, step])
            out.append(result[0])
        return torch.stack(out, dim=1)

    def export(model, sample):
        import nir
        import nirtorch
        from snntorch.export_nir import _extract_snntorch_module, export_to_nir

        batched = sample if sample.ndim == 1 else sample[None]   # a Flatten needs the batch
        try:
            return export_to_nir(model, batched), None
        except IndexError:
            graph = nirtorch.extract_nir_graph(model, _extract_snntorch_module, batched, ignore_dims=[0])
            _fill_conv_shapes(nir, graph, batched)
            return graph, WORKAROUNDS["snntorch"]

    nn = torch.nn
    return {
        "dense": (lambda: nn.Sequential(nn.Linear(64, HIDDEN, bias=False), leaky(HIDDEN),
                                        nn.Linear(HIDDEN, CLASSES, bias=False), leaky(CLASSES, True)), True),
        "conv": (lambda: nn.Sequential(nn.Conv2d(1, 8, 3), _conv_leaky((8, 6, 6)), nn.Flatten(),
                                       nn.Linear(288, CLASSES, bias=False), leaky(CLASSES, True)), False),
        "cuba": (lambda: nn.Sequential(nn.Linear(64, HIDDEN, bias=False), synaptic(HIDDEN),
                                       nn.Linear(HIDDEN, CLASSES, bias=False), synaptic(CLASSES, True)), True),
    }, run, export


def _conv_leaky(shape):
    """A Leaky with one beta and threshold per conv neuron (snnTorch exports them per neuron)."""
    import snntorch as snn
    from snntorch import surrogate

    return snn.Leaky(beta=torch.full(shape, 0.8), threshold=torch.ones(shape), init_hidden=True,
                     reset_mechanism="zero", spike_grad=surrogate.fast_sigmoid(slope=5))


def _fill_conv_shapes(nir, graph, sample) -> None:
    """Shapes an exporter left empty: the Input's, the Output's and each Conv2d's and
    Flatten's input, propagated along the chain from the sample (without its batch)."""
    shape = tuple(sample.shape[1:])
    order = _chain_order(graph)
    for name in order:
        node = graph.nodes[name]
        if isinstance(node, nir.Input):
            node.input_type = {"input": np.array(shape)}
            node.output_type = {"output": np.array(shape)}
        elif isinstance(node, nir.Conv2d):
            node.input_shape = np.array(shape[1:])
            h = (shape[1] + 2 * int(np.atleast_1d(node.padding)[0]) - node.weight.shape[2]) // int(
                np.atleast_1d(node.stride)[0]) + 1
            w = (shape[2] + 2 * int(np.atleast_1d(node.padding)[-1]) - node.weight.shape[3]) // int(
                np.atleast_1d(node.stride)[-1]) + 1
            shape = (node.weight.shape[0], h, w)
        elif isinstance(node, nir.Flatten):
            node.input_type = {"input": np.array(shape)}
            shape = (int(np.prod(shape)),)
        elif isinstance(node, (nir.Linear, nir.Affine)):
            shape = (node.weight.shape[0],)
        elif isinstance(node, nir.Output):
            node.input_type = {"input": np.array(shape)}
            node.output_type = {"output": np.array(shape)}


def _scalars_as_arrays(graph):
    """0-d parameters as 1-element arrays (NIR#176 broadcasts them; h5py cannot compress 0-d)."""
    import dataclasses

    for node in graph.nodes.values():
        if not dataclasses.is_dataclass(node):
            raise TypeError(f"the exporter wrote a {type(node).__name__} node")
        for key in (field.name for field in dataclasses.fields(node)):
            value = getattr(node, key)
            if isinstance(value, torch.Tensor):
                value = value.detach().numpy()
            if isinstance(value, np.ndarray) and value.ndim == 0:
                setattr(node, key, value.reshape(1))
    return graph


def _chain_order(graph) -> list[str]:
    import nir

    start = next(name for name, node in graph.nodes.items() if isinstance(node, nir.Input))
    after = {}
    for a, b in graph.edges:
        after.setdefault(a, []).append(b)
    order = [start]
    while after.get(order[-1]):
        order.append(after[order[-1]][0])
    return order


# --- Norse --------------------------------------------------------------------------------

def norse_nets() -> dict:
    import norse.torch as norse
    from norse.torch.functional.lif import LIFParameters
    from norse.torch.functional.lif_box import LIFBoxParameters

    box = LIFBoxParameters(tau_mem_inv=torch.tensor(500.0), v_th=torch.tensor(0.2))
    cuba = LIFParameters(tau_syn_inv=torch.tensor(500.0), tau_mem_inv=torch.tensor(200.0), v_th=torch.tensor(0.3))
    nn = torch.nn

    def run(model, x):
        state = None
        out = []
        for step in range(x.shape[1]):
            spikes, state = model(x[:, step], state)
            out.append(spikes)
        return torch.stack(out, dim=1)

    def export(model, sample):
        from functools import partial

        import nir
        from nirtorch import extract_nir_graph
        from norse.torch.utils.export_nir import _extract_norse_module

        try:
            graph = norse.to_nir(model, sample[None])  # batched, as Norse's own tests do
            return _scalars_as_arrays(graph), WORKAROUNDS["norse"]
        except Exception as error:  # noqa: BLE001  Norse's own exporter: any failure is worked around below
            if not any(isinstance(m, nn.Flatten) for m in model.modules()):
                raise
            print(f"norse to_nir failed ({type(error).__name__}: {error}); exporting with a Flatten mapping",
                  file=sys.stderr)

        def mapping(module):
            if isinstance(module, nn.Flatten):
                return nir.Flatten(input_type=None, start_dim=module.start_dim - 1, end_dim=module.end_dim)
            return _extract_norse_module(module, dt=1e-3)

        graph = extract_nir_graph(model, mapping, sample[None], model_name="norse")
        _fill_conv_shapes(nir, graph, sample[None])
        return _scalars_as_arrays(graph), f"{WORKAROUNDS['norse-flatten']}; {WORKAROUNDS['norse']}"

    return {
        "dense": (lambda: norse.SequentialState(nn.Linear(64, HIDDEN), norse.LIFBoxCell(box),
                                                nn.Linear(HIDDEN, CLASSES), norse.LIFBoxCell(box)), True),
        "conv": (lambda: norse.SequentialState(nn.Conv2d(1, 8, 3), norse.LIFBoxCell(box), nn.Flatten(),
                                               nn.Linear(288, CLASSES), norse.LIFBoxCell(box)), False),
        # no Linear bias: Norse adds it to the persistent current, which Loihi cannot bias
        "cuba": (lambda: norse.SequentialState(nn.Linear(64, HIDDEN, bias=False), norse.LIFCell(cuba),
                                               nn.Linear(HIDDEN, CLASSES, bias=False), norse.LIFCell(cuba)), True),
    }, run, export


# --- sinabs -------------------------------------------------------------------------------

def sinabs_nets() -> dict:
    import sinabs.activation as sa
    import sinabs.layers as sl

    nn = torch.nn
    single = dict(spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset(),
                  surrogate_grad_fn=sa.SingleExponential())

    def lif():
        return sl.LIFSqueeze(tau_mem=torch.tensor(2.0), spike_threshold=0.3, num_timesteps=STEPS, **single)

    def iaf():
        return sl.IAFSqueeze(num_timesteps=STEPS, **single)

    def run(model, x):
        for module in model.modules():
            if hasattr(module, "reset_states"):
                module.reset_states()
        batch = x.shape[0]
        out = model(x.reshape(batch * STEPS, *x.shape[2:]))
        return out.reshape(batch, STEPS, -1)

    def export(model, sample):
        import nir
        from sinabs import to_nir

        graph = to_nir(model, torch.zeros((STEPS, *sample.shape)))
        try:
            nir.write(Path("/dev/null"), graph)
            return graph, None
        except Exception:  # noqa: BLE001  sinabs' graph as it comes: shapes empty
            _fill_conv_shapes(nir, graph, sample[None])
            return graph, WORKAROUNDS["sinabs"]

    return {
        "dense": (lambda: nn.Sequential(nn.Linear(64, HIDDEN, bias=False), lif(),
                                        nn.Linear(HIDDEN, CLASSES, bias=False), lif()), True),
        "conv": (lambda: nn.Sequential(nn.Conv2d(1, 8, 3), iaf(), nn.Flatten(),
                                       nn.Linear(288, CLASSES, bias=False), iaf()), False),
    }, run, export


# --- SpikingJelly -------------------------------------------------------------------------

def spikingjelly_nets() -> dict:
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    nn = torch.nn

    def lif():
        return neuron.LIFNode(tau=2.0, v_threshold=0.3, v_reset=0.0, surrogate_function=surrogate.ATan(),
                              step_mode="m")

    def cuba():
        return neuron.CUBALIFNode(c_decay=0.5, v_decay=0.75, v_threshold=0.5, v_reset=0.0,
                                  surrogate_function=surrogate.ATan())

    def run(model, x):
        functional.reset_net(model)
        return model(x.transpose(0, 1)).transpose(0, 1)

    def export(model, sample):
        from spikingjelly.activation_based.nir_exchange import export_to_nir

        functional.reset_net(model)
        return export_to_nir(model, sample[None, None]), None  # (T, B, ...) in multi-step mode

    def seq(*modules):
        net = nn.Sequential(*modules)
        functional.set_step_mode(net, "m")
        return net

    return {
        "dense": (lambda: seq(layer.Linear(64, HIDDEN, bias=False), lif(),
                              layer.Linear(HIDDEN, CLASSES, bias=False), lif()), True),
        "conv": (lambda: seq(layer.Conv2d(1, 8, 3), lif(), layer.Flatten(),
                             layer.Linear(288, CLASSES, bias=False), lif()), False),
        "cuba": (lambda: seq(layer.Linear(64, HIDDEN, bias=False), cuba(),
                             layer.Linear(HIDDEN, CLASSES, bias=False), cuba()), True),
    }, run, export


# --- Rockpool -----------------------------------------------------------------------------

def rockpool_nets() -> dict:
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch
    from rockpool.parameters import Constant

    def cuba(n):
        return LIFTorch((n, n), tau_mem=Constant(0.02), tau_syn=Constant(0.01), bias=Constant(0.0),
                        threshold=Constant(1.0), dt=1e-3, max_spikes_per_dt=1)

    def linear(shape):
        # smaller than Rockpool's default initialisation, which drives v far above threshold
        # (its reset subtracts the threshold, Loihi's sets v to 0)
        made = LinearTorch(shape)
        with torch.no_grad():
            made.weight.mul_(0.25)
        return made

    def run(model, x):
        model.reset_state()
        out, _, _ = model(x)
        return out

    def export(model, sample):
        from rockpool.nn.modules.torch.nir import to_nir

        return to_nir(model, sample[None]), None   # Rockpool's own default sample is batched

    return {
        "cuba": (lambda: Sequential(linear((64, HIDDEN)), cuba(HIDDEN),
                                    linear((HIDDEN, CLASSES)), cuba(CLASSES)), True),
    }, run, export


# --- reading neurodeploy's export-nir back -------------------------------------------------

def readback(framework: str, path: Path, spikes: np.ndarray) -> np.ndarray:
    """Output counts ``(N, classes)`` of the graph at ``path`` loaded by the framework's
    own NIR importer and run on ``spikes`` ``(N, T, ...)`` step by step."""
    import nir

    if framework == "sinabs":
        path = _without_zero_resets(path)
    graph = nir.read(path)
    first = next(node for node in graph.nodes.values() if isinstance(node, nir.Input))
    shape = tuple(int(v) for v in np.atleast_1d(first.input_type["input"]))
    x = torch.as_tensor(spikes, dtype=torch.float32).reshape(len(spikes), spikes.shape[1], *shape)
    if framework == "sinabs":
        from sinabs import from_nir

        model = from_nir(graph, batch_size=len(x))
        with torch.no_grad():
            out = model(x.reshape(len(x) * x.shape[1], *shape))
        out = out[0] if isinstance(out, tuple) else out     # nirtorch's executor returns (out, state)
        return out.reshape(len(x), x.shape[1], -1).sum(dim=1).numpy().astype(np.int64)
    if framework == "snntorch":
        from snntorch.import_nir import import_from_nir as load
    elif framework == "norse":
        from norse.torch import from_nir as load
    else:
        from functools import partial

        from spikingjelly.activation_based.nir_exchange import import_from_nir

        load = partial(import_from_nir, dt=float(graph.metadata["dt"]))   # it assumes 1e-4 otherwise
    model = load(graph)
    # snnTorch's and Norse's importers build torch's Flatten from NIR's batch-free start_dim
    # (flattening the batch in): such graphs run one sample at a time
    batches = [x[i:i + 1] for i in range(len(x))] if framework != "spikingjelly" and any(
        isinstance(node, nir.Flatten) for node in graph.nodes.values()) else [x]
    counts = []
    with torch.no_grad():
        for batch in batches:
            state, total = None, 0
            for step in range(batch.shape[1]):
                result = model(batch[:, step], state) if state is not None else model(batch[:, step])
                out, state = result if isinstance(result, tuple) else (result, None)
                total = total + out
            counts.append(total.reshape(len(batch), -1))
    return torch.cat(counts).numpy().astype(np.int64)


def _without_zero_resets(path: Path) -> Path:
    """A copy without ``v_reset = 0`` datasets: sinabs pins nir <= 1.0.4, whose LIF and IF
    take no ``v_reset`` (nir 1.0.8 writes it; 0 is 1.0.4's own reset)."""
    import shutil
    import tempfile

    import h5py

    copy = Path(tempfile.mkdtemp()) / path.name
    shutil.copy(path, copy)
    with h5py.File(copy, "r+") as handle:
        for node in handle["node/nodes"].values():
            if "v_reset" in node:
                if np.any(node["v_reset"][()]):
                    raise SystemExit(f"{path}: v_reset != 0, which nir 1.0.4 cannot carry")
                del node["v_reset"]
    return copy


NETS = {"snntorch": snntorch_nets, "norse": norse_nets, "sinabs": sinabs_nets,
        "spikingjelly": spikingjelly_nets, "rockpool": rockpool_nets}
PACKAGE = {"snntorch": "snntorch", "norse": "norse", "sinabs": "sinabs",
           "spikingjelly": "spikingjelly", "rockpool": "rockpool"}


def main() -> None:
    import nir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=sorted(NETS))
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--only", help="one net (dense, conv, cuba)")
    parser.add_argument("--readback", type=Path, metavar="GRAPH.nir",
                        help="instead: load this graph (neurodeploy's export-nir) with the framework's "
                             "importer and print its output counts on the test spikes as JSON")
    args = parser.parse_args()
    train_x, train_y, test_x, test_y = digits()
    if args.readback:
        print(json.dumps(readback(args.framework, args.readback, test_x).tolist()))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    spikes_file = args.out / "spikes.npz"
    if spikes_file.exists():   # written by another framework's run: must be the same input
        kept = np.load(spikes_file)
        if not (np.array_equal(kept["spikes"], np.packbits(test_x, axis=-1))
                and np.array_equal(kept["labels"], test_y)):
            sys.exit(f"{spikes_file}: other spikes than this venv makes (numpy or scikit-learn differ)")
    else:
        np.savez_compressed(spikes_file, spikes=np.packbits(test_x, axis=-1), labels=test_y,
                            shape=np.array(test_x.shape))
    nets, run, export = NETS[args.framework]()
    for kind, (make, flat) in nets.items():
        if args.only and kind != args.only:
            continue
        torch.manual_seed(SEED)
        model = make()
        train(run, model, train_x, train_y, args.epochs, flat)
        counts = counts_of(run, model, test_x, flat)
        sample = torch.zeros((64,) if flat else (1, 8, 8))   # one unbatched sample
        graph, workaround = export(model, sample)
        stem = f"{args.framework}_{kind}"
        nir.write(args.out / f"{stem}.nir", graph)
        record = {"framework": args.framework, "version": version(PACKAGE[args.framework]),
                  "nir": version("nir"), "torch": version("torch"), "net": kind, "steps": STEPS,
                  "epochs": args.epochs, "workaround": workaround,
                  "accuracy": float(np.mean(counts.argmax(axis=1) == test_y)),
                  "counts": counts.tolist()}
        (args.out / f"{stem}.json").write_text(json.dumps(record))
        print(f"{stem}: accuracy {record['accuracy']:.3f}, output spikes/sample "
              f"{counts.sum(axis=1).mean():.1f}{'; ' + workaround if workaround else ''}")


if __name__ == "__main__":
    main()
