"""The derivation registries agree: every name of schemas.derived.DERIVATIONS has a Column builder in
jobs.features.derived.BUILDERS and every builder a declared derivation, and registering them needs no
SparkSession (a builder only makes Columns when a feature is planned)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.features.derived import BUILDERS, derivation
from schemas.derived import DERIVATIONS

ROOT = Path(__file__).resolve().parents[2]


def test_every_derivation_has_a_builder_and_every_builder_a_derivation():
    assert sorted(DERIVATIONS) == sorted(BUILDERS)
    assert all(callable(b) for b in BUILDERS.values())
    for name, spec in DERIVATIONS.items():
        assert spec.name == name and spec.inputs and spec.unit, name


def test_a_builder_for_an_undeclared_derivation_is_refused():
    with pytest.raises(KeyError, match="not in schemas.derived.DERIVATIONS"):
        derivation("egfr_mdrd_1999")


def test_importing_the_builders_starts_no_spark():
    """In a fresh interpreter: the registry fills on import while no SparkContext exists (a Column built at
    import time would need one)."""
    code = ("import json; import jobs.features.derived as d; from pyspark import SparkContext; "
            "active = SparkContext._active_spark_context is not None; "
            "print(json.dumps({'builders': sorted(d.BUILDERS), 'spark': active}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"builders": sorted(DERIVATIONS), "spark": False}
