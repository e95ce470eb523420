"""Tests that need no SparkSession (contracts, registries, pure functions, the loader, the generator)."""
