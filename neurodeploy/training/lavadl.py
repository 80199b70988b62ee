"""lava-dl's ``slayer`` and ``netx``, imported once with their import-time notices muted.

Importing lava-dl prints about optional toolboxes (Prophesee) and a missing CUDA runtime
on every start; they say nothing about the user's run, so the toolkit imports lava-dl
here and everywhere else takes ``slayer`` and ``netx`` from this module.

SLAYER's dynamics, time-shift and filter modules import ``torch.utils.cpp_extension``
(setuptools and hipify: about a second) at their top, for the CUDA kernels they compile
at first use on a GPU. neurodeploy's networks compile nothing (``model.fused_cuba``), so
while lava-dl is imported a stand-in holds that module's place: its ``load`` imports the
real module and calls it, as does reading any other name from it. The stand-in leaves
``sys.modules`` when lava-dl is imported; whoever imports the module later gets the real
one. lava-dl's files are not changed.
"""
import importlib
import io
import sys
import types
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import Any, Iterator

import torch  # noqa: F401  (the stand-in's parent package)

CPP_EXTENSION = "torch.utils.cpp_extension"


class _CppExtensionOnDemand(types.ModuleType):
    """``torch.utils.cpp_extension``, imported when something first uses it."""

    @staticmethod
    def load(*args: Any, **kwargs: Any) -> Any:
        return _real_cpp_extension().load(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system probing (``__path__``...): not a use
            raise AttributeError(name)
        return getattr(_real_cpp_extension(), name)


def _real_cpp_extension() -> types.ModuleType:
    if isinstance(sys.modules.get(CPP_EXTENSION), _CppExtensionOnDemand):
        del sys.modules[CPP_EXTENSION]
    return importlib.import_module(CPP_EXTENSION)


@contextmanager
def _cpp_extension_on_demand() -> Iterator[None]:
    if CPP_EXTENSION in sys.modules:
        yield
        return
    stand_in = _CppExtensionOnDemand(CPP_EXTENSION)
    sys.modules[CPP_EXTENSION] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(CPP_EXTENSION) is stand_in:
            del sys.modules[CPP_EXTENSION]


with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), _cpp_extension_on_demand():
    from lava.lib.dl import netx, slayer

__all__ = ["netx", "slayer"]
