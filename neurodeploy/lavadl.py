"""lava-dl's ``slayer`` and ``netx``, imported once with their import-time notices muted.

Importing lava-dl prints about optional toolboxes (Prophesee) and a missing CUDA runtime
on every start; they say nothing about the user's run, so the toolkit imports lava-dl
here and everywhere else takes ``slayer`` and ``netx`` from this module.
"""
import io
from contextlib import redirect_stderr, redirect_stdout

with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
    from lava.lib.dl import netx, slayer

__all__ = ["netx", "slayer"]
