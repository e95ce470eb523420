"""Subprocess, cluster and kill tests: `pytest -m slow`."""
