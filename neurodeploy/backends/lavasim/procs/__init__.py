"""Lava processes and their process models (import the modules directly: they import Lava)."""
