"""Whole job runs in-process on generated extracts (the session `e2e` run and a few more)."""
