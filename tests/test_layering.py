"""Layering of the package: which module may import which, and what an import drags in.

The package is laid out in layers, lowest first: ``core``, ``hardware``, ``training``,
``backends``, ``interop``, ``app`` (the CLI, the pipeline, the reports, and the package's
own ``__init__``/``__main__``). A module may import its own layer and the ones below, never
one above, so each layer is importable without the upper ones; the two backends are
siblings and import neither each other. Static checks read every module under
``neurodeploy/`` with :mod:`ast`: imports inside functions count, so do imports under
``if TYPE_CHECKING:`` and ``importlib.import_module("...")`` calls with a literal name.
Dynamic checks import in a fresh interpreter and look at ``sys.modules``; when a module
that must stay out gets in, the failure shows the import chain that brought it.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "neurodeploy"

#: Layers, lowest first: each is the packages (by dotted prefix) it holds.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("neurodeploy.core",)),
    ("hardware", ("neurodeploy.hardware",)),
    ("training", ("neurodeploy.training",)),
    ("backends", ("neurodeploy.backends",)),
    ("interop", ("neurodeploy.interop",)),
    ("app", ("neurodeploy.app", "neurodeploy.__main__")),
)
#: Modules that belong to a layer by name alone (a prefix would take in the whole package).
EXACT_LAYER = {"neurodeploy": "app"}
#: Packages in one layer that must not import each other.
SIBLINGS = ("neurodeploy.backends.emulator", "neurodeploy.backends.lavasim")
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}


@dataclass(frozen=True)
class Import:
    source: str      # importing module
    target: str      # imported module, resolved (``from a import b`` is ``a.b`` when that is a module)
    where: str       # file:line of the import statement
    module_level: bool  # runs when the importing module is imported
    type_checking: bool  # under ``if TYPE_CHECKING:``


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULE_FILES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Collector(ast.NodeVisitor):
    """Every import a module makes; ``modules`` are the module names that exist (to tell
    ``from a import b`` of a module from that of a name)."""

    def __init__(self, module: str, is_package: bool, file: str, modules: Iterable[str] = MODULE_FILES):
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.file = file
        self.modules = set(modules)
        self.found: list[Import] = []
        self.depth = 0          # inside a function or lambda
        self.type_checking = 0  # inside ``if TYPE_CHECKING:``

    def _add(self, target: str, node: ast.AST) -> None:
        self.found.append(Import(self.module, target, f"{self.file}:{node.lineno}", self.depth == 0,
                                 self.type_checking > 0))

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_checking += 1
            for child in node.body:
                self.visit(child)
            self.type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base_parts = self.package.split(".")
            base_parts = base_parts[:len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            self._add(candidate if candidate in self.modules else base, node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            self._add(node.args[0].value, node)
        self.generic_visit(node)


def _collect(sources: Mapping[str, tuple[str, str, bool]], modules: Iterable[str]) -> list[Import]:
    """Imports of each module: ``sources`` maps its name to (file, text, is_package)."""
    found: list[Import] = []
    for module, (file, text, is_package) in sources.items():
        collector = _Collector(module, is_package, file, modules)
        collector.visit(ast.parse(text, filename=file))
        found += collector.found
    return found


ALL_IMPORTS = _collect({module: (str(path.relative_to(REPO)), path.read_text(), path.name == "__init__.py")
                        for module, path in MODULE_FILES.items()}, MODULE_FILES)


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _ours(name: str) -> bool:
    return _matches(name, "neurodeploy")


def layer_of(module: str) -> Optional[str]:
    """The layer ``module`` belongs to by its path, or None when it belongs to none."""
    if module in EXACT_LAYER:
        return EXACT_LAYER[module]
    return next((layer for layer, prefixes in LAYERS if any(_matches(module, p) for p in prefixes)), None)


def _sibling(module: str) -> Optional[str]:
    return next((s for s in SIBLINGS if _matches(module, s)), None)


def unassigned(modules: Iterable[str]) -> list[str]:
    """Modules that no layer holds."""
    return sorted(m for m in modules if layer_of(m) is None)


def unknown_targets(imports: Iterable[Import], modules: Iterable[str]) -> list[str]:
    """Imports of a ``neurodeploy`` module that does not exist (no layer can be told for them)."""
    known = set(modules)
    return [f"{i.where}: {i.source} imports {i.target}, which is no module under neurodeploy/"
            for i in imports if _ours(i.target) and i.target not in known]


def upward_imports(imports: Iterable[Import]) -> list[str]:
    """Imports from a lower layer into a higher one, and between sibling backends."""
    offenders = []
    for i in imports:
        if not _ours(i.target) or i.target == i.source:
            continue
        low, high = layer_of(i.source), layer_of(i.target)
        if low is None or high is None:
            continue  # reported by unassigned / unknown_targets
        kind = "under TYPE_CHECKING" if i.type_checking else "module level" if i.module_level else "lazy"
        if RANK[high] > RANK[low]:
            offenders.append(f"{i.where}: {i.source} ({low}) imports {i.target} ({high}) [{kind}]")
        elif (a := _sibling(i.source)) and (b := _sibling(i.target)) and a != b:
            offenders.append(f"{i.where}: {i.source} imports its sibling backend {i.target} [{kind}]")
    return offenders


def import_cycles(imports: Iterable[Import]) -> list[str]:
    """One circle for each strongly connected group of modules, lazy imports counted
    (imports only under ``TYPE_CHECKING`` never run, so they make no circle), each edge
    with the file:line that makes it."""
    edges: dict[str, dict[str, list[str]]] = {}  # source -> target -> where each import is
    for i in imports:
        if _ours(i.target) and not i.type_checking and i.target != i.source:
            edges.setdefault(i.source, {}).setdefault(i.target, []).append(i.where)
    nodes = sorted(set(edges) | {t for targets in edges.values() for t in targets})

    # Tarjan's strongly connected components, iterative (no recursion limit on a big package).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    circles = []
    for group in groups:
        members, start = set(group), group[0]
        # Shortest way back to ``start`` inside the group (breadth first).
        came_from: dict[str, str] = {}
        frontier = [start]
        while start not in came_from:
            reached = []
            for node in frontier:
                for nxt in sorted(edges.get(node, {})):
                    if nxt in members and nxt not in came_from:
                        came_from[nxt] = node
                        reached.append(nxt)
            frontier = reached
        path = [start, came_from[start]]
        while path[-1] != start:
            path.append(came_from[path[-1]])
        path.reverse()
        steps = [f"{a} ({', '.join(edges[a][b])})" for a, b in zip(path, path[1:])]
        circles.append(" -> ".join(steps + [start]) + f"   [group of {len(group)}: {', '.join(group)}]")
    return circles


def _report(title: str, lines: list[str]) -> str:
    return f"{title}:\n  " + "\n  ".join(lines)


# --- static: guards --------------------------------------------------------------------------

def test_the_collector_sees_every_kind_of_import():
    """Guard for the checks below: an import collector that finds nothing passes them all."""
    assert len(MODULE_FILES) > 50 and "neurodeploy.app.cli" in MODULE_FILES
    cli_pipeline = [i for i in ALL_IMPORTS if i.source == "neurodeploy.app.cli" and i.target == "neurodeploy.app.pipeline"]
    assert cli_pipeline and not any(i.module_level for i in cli_pipeline)
    assert any(i.type_checking for i in ALL_IMPORTS) and sum(_ours(i.target) for i in ALL_IMPORTS) > 200
    collector = _Collector("neurodeploy.backends.emulator.engine", False, "engine.py")
    collector.visit(ast.parse("from . import layers\nfrom ...core.data import loaders\nfrom ...core.data import ImageSet\n"
                              "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ...core import trace\n"
                              "def f():\n    from neurodeploy.app import pipeline\n"
                              "    return importlib.import_module('neurodeploy.interop.files')\n"))
    assert [(i.target, i.where, i.module_level, i.type_checking) for i in collector.found] == [
        ("neurodeploy.backends.emulator.layers", "engine.py:1", True, False),
        ("neurodeploy.core.data.loaders", "engine.py:2", True, False),
        ("neurodeploy.core.data", "engine.py:3", True, False),
        ("typing", "engine.py:4", True, False),
        ("neurodeploy.core.trace", "engine.py:6", True, True),
        ("neurodeploy.app.pipeline", "engine.py:8", False, False),
        ("neurodeploy.interop.files", "engine.py:9", False, False)]


def test_the_checks_report_what_they_are_built_to_find():
    """Guard: a small made-up package with an upward import of each kind, a sibling import,
    a circle through a lazy import, a module in no layer and a stale name; each is reported."""
    made_up = {
        "neurodeploy.core.up_lazy": ("core/up_lazy.py", "def f():\n    from neurodeploy.app import api\n", False),
        "neurodeploy.core.up_typing": ("core/up_typing.py", "from typing import TYPE_CHECKING\n"
                                       "if TYPE_CHECKING:\n    from ..training import train\n", False),
        "neurodeploy.hardware.up_importlib": ("hardware/up_importlib.py", "import importlib\n"
                                              "importlib.import_module('neurodeploy.interop.files')\n", False),
        "neurodeploy.backends.emulator.side": ("backends/emulator/side.py", "from ..lavasim import runner\n", False),
        "neurodeploy.hardware.ring_a": ("hardware/ring_a.py", "from . import ring_b\n", False),
        "neurodeploy.hardware.ring_b": ("hardware/ring_b.py", "def g():\n    import neurodeploy.hardware.ring_c\n", False),
        "neurodeploy.hardware.ring_c": ("hardware/ring_c.py", "from neurodeploy.hardware.ring_a import x\n", False),
        "neurodeploy.hardware.hint_a": ("hardware/hint_a.py", "from . import hint_b\n", False),
        "neurodeploy.hardware.hint_b": ("hardware/hint_b.py", "from typing import TYPE_CHECKING\n"
                                        "if TYPE_CHECKING:\n    from . import hint_a\n", False),
        "neurodeploy.core.down": ("core/down.py", "from . import errors\n", False),
        "neurodeploy.misc": ("misc.py", "import neurodeploy.core.gone\n", False),
    }
    modules = set(MODULE_FILES) | set(made_up)
    imports = _collect(made_up, modules)

    assert unassigned(modules) == ["neurodeploy.misc"]
    assert unknown_targets(imports, modules) == [
        "misc.py:1: neurodeploy.misc imports neurodeploy.core.gone, which is no module under neurodeploy/"]
    assert upward_imports(imports) == [
        "core/up_lazy.py:2: neurodeploy.core.up_lazy (core) imports neurodeploy.app.api (app) [lazy]",
        "core/up_typing.py:3: neurodeploy.core.up_typing (core) imports neurodeploy.training.train (training)"
        " [under TYPE_CHECKING]",
        "hardware/up_importlib.py:2: neurodeploy.hardware.up_importlib (hardware) imports "
        "neurodeploy.interop.files (interop) [module level]",
        "backends/emulator/side.py:1: neurodeploy.backends.emulator.side imports its sibling backend "
        "neurodeploy.backends.lavasim.runner [module level]"]
    ring = ("neurodeploy.hardware.ring_a (hardware/ring_a.py:1) -> neurodeploy.hardware.ring_b (hardware/ring_b.py:2)"
            " -> neurodeploy.hardware.ring_c (hardware/ring_c.py:1) -> neurodeploy.hardware.ring_a")
    assert import_cycles(imports) == [
        ring + "   [group of 3: neurodeploy.hardware.ring_a, neurodeploy.hardware.ring_b, neurodeploy.hardware.ring_c]"]


# --- static: the package -------------------------------------------------------------------

def test_every_module_is_in_a_layer():
    missing = unassigned(MODULE_FILES)
    assert not missing, _report("modules in no layer (add them to LAYERS or move them)",
                                [f"{MODULE_FILES[m].relative_to(REPO)} ({m})" for m in missing])


def test_every_import_of_the_package_names_a_module_that_exists():
    stale = unknown_targets(ALL_IMPORTS, MODULE_FILES)
    assert not stale, _report("imports of neurodeploy modules that do not exist", stale)


def test_no_layer_imports_a_higher_one_and_no_backend_its_sibling():
    offenders = upward_imports(ALL_IMPORTS)
    assert not offenders, _report("imports up the layers (core < hardware < training < backends < interop < app)",
                                  offenders)


def test_the_package_has_no_import_circle():
    circles = import_cycles(ALL_IMPORTS)
    assert not circles, _report("import circles (lazy imports counted)", circles)


# --- dynamic -------------------------------------------------------------------------------

PROBE = r'''
import json, sys, traceback
statement, forbidden = sys.argv[1], json.loads(sys.argv[2])
chains = {}

def _hit(name):
    return next((f for f in forbidden if name == f or name.startswith(f + ".")), None)

class _Spy:
    """Records, for each forbidden name, the stack at its first import attempt."""
    def find_spec(self, name, path=None, target=None):
        root = _hit(name)
        if root and root not in chains:
            chains[root] = [f"{frame.filename}:{frame.lineno}: {frame.line}" for frame in traceback.extract_stack()[:-1]
                            if not frame.filename.startswith("<frozen") and frame.filename != "<string>"]
        return None

sys.meta_path.insert(0, _Spy())
namespace = {}
exec(statement, namespace)
loaded = sorted(name for name in sys.modules if _hit(name))
print(json.dumps({"loaded": loaded, "chains": {root: chains.get(root, []) for root in forbidden
                                               if any(name == root or name.startswith(root + ".") for name in loaded)},
                  "result": namespace.get("result")}))
'''


def _probe(tmp_path: Path, statement: str, forbidden: list[str]) -> dict:
    """Run ``statement`` in a fresh venv interpreter (outside the checkout)."""
    result = subprocess.run([sys.executable, "-c", PROBE, statement, json.dumps(forbidden)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, env={**_env(), "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _env() -> dict:
    import os

    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def _chain_report(info: dict) -> str:
    return "\n".join(f"{root} imported via:\n  " + "\n  ".join(chain) for root, chain in info["chains"].items())


@pytest.mark.timeout(120)
def test_emulator_import_stays_off_slayer_training_and_rich(tmp_path):
    info = _probe(tmp_path, "import neurodeploy.backends.emulator.engine",
                  ["lava.lib.dl.slayer", "neurodeploy.training.train", "rich"])
    assert not info["loaded"], f"loaded: {info['loaded']}\n{_chain_report(info)}"


@pytest.mark.timeout(120)
def test_package_import_is_light(tmp_path):
    info = _probe(tmp_path, "import neurodeploy", ["torch", "lava"])
    assert not info["loaded"], f"loaded: {info['loaded'][:10]}\n{_chain_report(info)}"


@pytest.mark.timeout(120)
def test_version_matches_the_installed_metadata(tmp_path):
    info = _probe(tmp_path, "import importlib.metadata as md, neurodeploy as nd\n"
                            "result = [nd.__version__, md.version('neurodeploy')]", ["torch", "lava"])
    version, installed = info["result"]
    assert isinstance(version, str) and version.strip()
    assert version == installed
    assert not info["loaded"], f"reading __version__ loaded {info['loaded'][:10]}\n{_chain_report(info)}"


def test_procs_holds_only_lava_processes():
    """Lava's compiler re-executes every module in a process's folder to find its models,
    so ``procs/`` keeps to Lava processes and their models (state such as the step board
    lives elsewhere): each module defines a class whose model is registered with ``@implements``."""
    procs = sorted((PACKAGE / "backends" / "lavasim" / "procs").glob("*.py"))
    assert len(procs) > 1, "no procs/ package where the Lava backend keeps its processes"
    for path in procs:
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        decorated = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                     and any("implements" in ast.unparse(decorator) for decorator in node.decorator_list)]
        assert decorated, f"{path.relative_to(REPO)} defines no Lava process model (@implements)"
