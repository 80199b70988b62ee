"""Layering of the package: which module may import which, and what an import drags in.

Static checks read every module under ``neurodeploy/`` with :mod:`ast` (imports inside
functions count; so do ``importlib.import_module("...")`` calls with a literal name).
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

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "neurodeploy"

# Application-level modules: the entry points that tie all stages together. Only they may
# import the pipeline or the CLI. Command modules (neurodeploy/hardware/commands.py,
# neurodeploy/interop/commands.py) register CLI commands but import neither, so they are
# held to the same rule as the library.
APP_LEVEL = {"neurodeploy", "neurodeploy.__main__", "neurodeploy.cli", "neurodeploy.api", "neurodeploy.pipeline", "neurodeploy.compare"}
APP_ONLY_TARGETS = ("neurodeploy.pipeline", "neurodeploy.cli")


@dataclass(frozen=True)
class Import:
    source: str      # importing module
    target: str      # imported module, resolved (``from a import b`` is ``a.b`` when that is a module)
    line: int
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
    def __init__(self, module: str, is_package: bool):
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[Import] = []
        self.depth = 0          # inside a function or lambda
        self.type_checking = 0  # inside ``if TYPE_CHECKING:``

    def _add(self, target: str, node: ast.AST) -> None:
        self.found.append(Import(self.module, target, node.lineno, self.depth == 0, self.type_checking > 0))

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
            self._add(candidate if candidate in MODULE_FILES else base, node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            self._add(node.args[0].value, node)
        self.generic_visit(node)


def _imports(module: str) -> list[Import]:
    path = MODULE_FILES[module]
    collector = _Collector(module, path.name == "__init__.py")
    collector.visit(ast.parse(path.read_text(), filename=str(path)))
    return collector.found


ALL_IMPORTS = [imp for module in MODULE_FILES for imp in _imports(module)]


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_collector_sees_function_level_and_relative_imports():
    """Guard for the checks below: an import collector that finds nothing passes them all."""
    assert len(MODULE_FILES) > 20 and "neurodeploy.cli" in MODULE_FILES
    cli_pipeline = [i for i in ALL_IMPORTS if i.source == "neurodeploy.cli" and i.target == "neurodeploy.pipeline"]
    assert cli_pipeline and not any(i.module_level for i in cli_pipeline)
    collector = _Collector("neurodeploy.sim.emulator", False)
    collector.visit(ast.parse("from . import trace\nfrom ..data import loaders\nfrom ..data import ImageSet\n"
                              "def f():\n    from neurodeploy import pipeline\n"))
    assert [(i.target, i.module_level) for i in collector.found] == [
        ("neurodeploy.sim.trace", True), ("neurodeploy.data.loaders", True), ("neurodeploy.data", True),
        ("neurodeploy.pipeline", False)]


def test_only_app_level_modules_import_the_pipeline_or_the_cli():
    offenders = [f"{MODULE_FILES[i.source].relative_to(REPO)}:{i.line} imports {i.target}"
                 for i in ALL_IMPORTS
                 if i.source not in APP_LEVEL and any(_matches(i.target, t) for t in APP_ONLY_TARGETS)]
    assert not offenders, "library modules reach up into the application layer:\n" + "\n".join(offenders)


def test_the_data_package_has_no_import_cycle():
    nodes = {name for name in MODULE_FILES if _matches(name, "neurodeploy.data")}
    assert len(nodes) >= 2
    graph: dict[str, set[str]] = {node: set() for node in nodes}
    for imp in ALL_IMPORTS:
        if imp.source in nodes and imp.module_level and not imp.type_checking and imp.target in nodes \
                and imp.target != imp.source:
            graph[imp.source].add(imp.target)
    assert any(graph.values()), "no edges at all: the data modules' imports were not seen"

    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(nodes):
        if start not in state:
            cycle = visit(start)
            assert cycle is None, "module-level import cycle: " + " -> ".join(cycle)


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
    info = _probe(tmp_path, "import neurodeploy.sim.emulator",
                  ["lava.lib.dl.slayer", "neurodeploy.model.train", "rich"])
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
    for path in sorted((PACKAGE / "procs").glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        decorated = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                     and any("implements" in ast.unparse(decorator) for decorator in node.decorator_list)]
        assert decorated, f"{path.relative_to(REPO)} defines no Lava process model (@implements)"
