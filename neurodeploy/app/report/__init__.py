"""Metrics, plots and terminal output."""
