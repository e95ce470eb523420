"""One session-scoped SparkSession for the whole suite (local[2], few shuffle partitions, UI off, UTC)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SYNTHEA = SHARED / "data" / "synthea27nj"
CRITERIA = ROOT / "criteria" / "nct06557265.yaml"
TRIAL_FILES = tuple(sorted((ROOT / "criteria").glob("*.yaml")))  # every shipped trial
NCT = "NCT06557265"  # the first trial's output folder under --out

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    from jobs.session import build_session

    session = build_session(
        app_name="cohort-finder-tests",
        master="local[2]",
        conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.adaptive.enabled": "false",
        },
        driver_memory="2g",
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def criteria_file():
    """The shipped criteria file, loaded once: LoadedCriteria(model, path, sha256), as RunConfig takes it."""
    from jobs.rules.loader import load_criteria

    return load_criteria(CRITERIA)


@pytest.fixture(scope="session")
def criteria(criteria_file):
    """The shipped criteria file's model (schemas.criteria.CriteriaFile)."""
    return criteria_file.model


@pytest.fixture(scope="session")
def trial_files():
    """Every shipped criteria file, loaded once (a tuple of LoadedCriteria: RunConfig's several trials)."""
    from jobs.rules.loader import load_criteria

    return tuple(load_criteria(p) for p in TRIAL_FILES)


@pytest.fixture
def synthea_dir():
    if not (SYNTHEA / "PERSON.csv").exists():
        pytest.skip("../shared/data/synthea27nj is not present")
    return SYNTHEA


E2E_PERSONS = 500


@pytest.fixture(scope="session")
def e2e(spark, trial_files, tmp_path_factory):
    """One generated extract (CSV, 500 persons, seed 11, patients planted for every shipped trial) and one
    whole job run of every shipped trial on it (no suppression), shared by the tests that need a finished run:
    ground truth and contract (e2e/test_pipeline), the feature contract (spark/features/test_build), the DuckDB
    differentials (e2e/test_peer_duckdb) and the first of the determinism pair (e2e/test_reliability). One run
    instead of one each (or one per trial) is minutes of the fast suite. `out` is the run's --out, `nct` its
    NCT06557265 folder."""
    from datetime import date
    from types import SimpleNamespace

    from jobs.config import RunConfig
    from jobs.pipeline import run
    from jobs.synthetic.generate import generate

    tmp = tmp_path_factory.mktemp("e2e")
    as_of = date(2026, 10, 1)
    generate(tmp / "sample", persons=E2E_PERSONS, seed=11, as_of=as_of)
    out = tmp / "out"
    result = run(spark, RunConfig(omop=str(tmp / "sample" / "omop"), criteria=trial_files, out=str(out),
                                  as_of=as_of, min_cell_count=0))
    return SimpleNamespace(sample=tmp / "sample", omop=tmp / "sample" / "omop", out=out, nct=out / NCT,
                           result=result)
