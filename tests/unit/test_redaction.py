"""Credentials never reach the manifest (jobs.redaction, jobs.outputs.manifest): a password in a JDBC query or
property string, or user-info in any URL, is taken out of every location shown."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from jobs.config import RunConfig
from jobs.outputs.manifest import build_manifest
from jobs.redaction import redact
from jobs.rules.loader import load_criteria
from tests.conftest import CRITERIA

AS_OF = date(2026, 10, 1)


def _manifest_for(location: str) -> dict:
    """build_manifest with stand-ins for the run's objects, to see what it records of --omop."""
    cfg = RunConfig(omop=location, criteria=load_criteria(CRITERIA), out="o",
                    jdbc_properties={"user": "u", "password": "hunter2-props"})
    report = SimpleNamespace(tables={}, missing_tables=[], empty_tables=[], missing_optional_columns={})
    stub = SimpleNamespace(to_manifest=dict, rows_read={})
    return build_manifest(cfg, read=report, gate=stub, resolved=stub, as_of=AS_OF, as_of_source="--as-of",
                          run_id="r", started=datetime.now(UTC), timings={}, persons=0, trials={}, quarantine={})


@pytest.mark.parametrize("location", [
    "jdbc:postgresql://db.example:5432/cdm?user=reader&password=hunter2",
    "jdbc:sqlserver://db.example:1433;databaseName=cdm;user=reader;password=hunter2",
])
def test_manifest_never_records_a_password(location):
    text = json.dumps(_manifest_for(location), default=str)
    assert "hunter2" not in text
    assert "db.example" in text  # the location itself is still recorded


@pytest.mark.parametrize("location", [
    "jdbc:mysql://reader:hunter2@db.example:3306/cdm",
    "jdbc:oracle:thin:reader/hunter2@db.example:1521/cdm",
    "s3a://AKIAEXAMPLE:hunter2@bucket/omop",
])
def test_manifest_never_records_userinfo_credentials(location):
    assert "hunter2" not in json.dumps(_manifest_for(location), default=str)


@pytest.mark.parametrize("location, shown", [
    ("jdbc:postgresql://db.example:5432/cdm?user=reader&password=hunter2", "jdbc:postgresql://db.example:5432/cdm"),
    ("jdbc:sqlserver://db.example:1433;databaseName=cdm;user=reader;password=hunter2",
     "jdbc:sqlserver://db.example:1433"),
    ("jdbc:mysql://reader:hunter2@db.example:3306/cdm", "jdbc:mysql://db.example:3306/cdm"),
    ("jdbc:oracle:thin:reader/hunter2@db.example:1521/cdm", "jdbc:oracle:thin:db.example:1521/cdm"),
    ("s3a://AKIAEXAMPLE:hunter2@bucket/omop", "s3a://bucket/omop"),
    ("jdbc:postgresql://db.example/cdm", "jdbc:postgresql://db.example/cdm"),
    ("hdfs://nn:8020/omop", "hdfs://nn:8020/omop"),
    ("/data/omop", "/data/omop"),
])
def test_redact_takes_out_credentials_and_keeps_the_location(location, shown):
    assert redact(location) == shown


def test_a_path_under_the_home_folder_is_shown_from_home():
    assert redact(str(Path.home() / "data" / "omop")) == "~/data/omop"
