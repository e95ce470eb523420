"""The CLI on a truncated export (issue 15.4, 15.1, 16.10): exit 2 naming the gap, or a run that says it at the
top of the report and on the console with --allow-missing-columns; `concept-sets` lists members and counts."""

from __future__ import annotations

import json

import pytest

from jobs import cli
from tests.conftest import CRITERIA, NCT
from tests.support.omop_builder import TRUNCATED_MEASUREMENT, Extract, drop_columns

pytestmark = pytest.mark.spark


@pytest.fixture
def in_session(spark, monkeypatch):
    """cli.main in-process on the suite's session (the CLI would start and stop its own)."""
    monkeypatch.setattr("jobs.session.build_session", lambda **kw: spark)
    monkeypatch.setattr(spark, "stop", lambda: None)
    return lambda *argv: cli.main([str(a) for a in argv])


@pytest.fixture(scope="module")
def truncated(tmp_path_factory):
    """Persons with a hepatitis B form (no hierarchy), a UPCR, a drug and a procedure; measurement exported
    without its value and unit columns."""
    e = Extract()
    for pid in range(1, 4):
        e.person(pid).lab(pid, 3001582, "2026-09-01", 2.0, 9510).drug(pid, 19080128, "2026-05-01", "2026-08-01")
        e.procedure(pid, 4217034, "2026-06-01")
    e.condition(1, 45772057, "2024-01-01").condition(2, 45772057, "2025-01-01")
    folder = e.write(tmp_path_factory.mktemp("truncated"))
    drop_columns(folder / "measurement.csv", TRUNCATED_MEASUREMENT)
    return folder


def test_absent_columns_exit_2_naming_table_column_and_criteria(in_session, truncated, capsys):
    assert in_session("check", "--omop", truncated, "--criteria", CRITERIA, "--as-of", "2026-10-01") == 2
    err = capsys.readouterr().err
    assert err.startswith("cohort-finder: error: the criteria read data the extract lacks")
    assert "table measurement: column value_as_number absent: read by" in err and "gen_exc_1" in err
    assert "Traceback" not in err and "--allow-missing-columns" in err


@pytest.mark.slow  # a whole extra pipeline run: in CI's slow suite, keeps `make test` under 10 min
def test_allowed_gaps_run_with_loud_warnings_and_a_concept_set_summary(in_session, truncated, tmp_path, capsys):
    out = tmp_path / "out"
    assert in_session("run", "--omop", truncated, "--criteria", CRITERIA, "--as-of", "2026-10-01", "--out", out,
                      "--allow-missing-columns") == 0
    printed = capsys.readouterr().out
    assert "WARNING: table measurement: column value_as_number absent" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(w.startswith("table measurement: column value_as_number absent") for w in manifest["warnings"])
    assert any(w.startswith("concept set qtc: no member is a concept") for w in manifest["warnings"])
    report = (out / NCT / "report.md").read_text()  # the run's warnings head every trial's report
    top = report.split("## Status per cohort")[0]
    assert "## Warnings" in top and "column value_as_number absent" in top
    infection = manifest["vocabulary"]["concept_sets"]["chronic_infection"]
    assert (infection["records"], infection["persons"], infection["criteria"]) == (2, 2, ["gen_exc_13"])
    assert "| chronic_infection |" in report


def test_concept_sets_lists_members_how_they_got_in_and_suppressed_counts(in_session, truncated, capsys):
    assert in_session("concept-sets", "--omop", truncated, "--criteria", CRITERIA, "--min-cell-count", 11) == 0
    text = capsys.readouterr().out
    block = text.split("\nchronic_infection:")[1].split("\n\n")[0]
    assert block.startswith(" ") and "<11 records, <11 persons; read by gen_exc_13" in block.splitlines()[0]
    line = next(ln for ln in block.splitlines() if "45772057" in ln)
    assert "Cirrhosis of liver due to hepatitis B" in line and "descendant (shipped subset)" in line
    assert "records    <11" in line and "[not in the extract's concept table]" in line
    assert "listed" in next(ln for ln in block.splitlines() if " 4281232 " in ln)
    assert "missing from the extract's concept table:" in block
    assert "warning  concept set qtc: no member is a concept" in text
