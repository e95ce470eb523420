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
def criteria():
    from jobs.criteria_loader import load_criteria

    return load_criteria(CRITERIA)


@pytest.fixture
def synthea_dir():
    if not (SYNTHEA / "PERSON.csv").exists():
        pytest.skip("../shared/data/synthea27nj is not present")
    return SYNTHEA
