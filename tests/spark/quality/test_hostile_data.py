"""Hostile and odd extracts (issue 20), through the CLI in-process (`jobs.cli.main` on the suite's one
SparkSession): the run either completes with every person accounted for and the bad rows in quarantine/, or
stops with one line naming the table/column and exit 2, never a traceback, a Java stack or a data value.

One completing run carries every row-level case at once (a person or row per case); the refusals each stop
in the read stage, before any full scan. The cases refused before Spark are in tests/unit/test_hostile_input.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from jobs import cli
from tests.support.omop_builder import Extract

pytestmark = pytest.mark.spark
AS_OF = "2026-10-01"
HB, DSDNA, SLE, PRED = 3000963, 3011287, 257628, 1551099
CRITERIA = f"""\
trial: HOSTILE
title: hostile input
version: "1"
concept_sets:
  sle: {{name: SLE, items: [{{concept_id: {SLE}}}]}}
  hb: {{name: hemoglobin, items: [{{concept_id: {HB}}}]}}
  dsdna: {{name: anti-dsDNA, items: [{{code: "5130-0", vocabulary: LOINC}}]}}
  steroid: {{name: prednisone, items: [{{concept_id: {PRED}}}]}}
labs:
  hemoglobin: {{name: hemoglobin, concept_set: hb}}
  dsdna: {{name: anti-dsDNA, concept_set: dsdna}}
criteria:
  - {{id: sle, type: inclusion, text: "SLE", rule: {{kind: condition, concept_set: sle}}}}
  - {{id: dsdna, type: inclusion, text: "anti-dsDNA positive",
     rule: {{kind: lab, lab: dsdna, comparator: positive, whole_history: true}}}}
  - {{id: hb, type: inclusion, text: "Hb >= 9", rule: {{kind: lab, lab: hemoglobin, comparator: ">=", value: 9,
     unit: g/dL}}}}
  - {{id: steroid, type: exclusion, text: "prednisone in 90 days",
     rule: {{kind: drug, concept_set: steroid, within_days: 90}}}}
  - {{id: alive, type: inclusion, text: "alive", rule: {{kind: alive}}}}
cohorts:
  c: {{title: C, criteria: [sle, dsdna, hb, steroid, alive]}}
"""


def _base() -> Extract:
    """Persons 1-8 with SLE and hemoglobin 12 g/dL; person 1 anti-dsDNA 50 > range_high 30 (eligible)."""
    e = Extract()
    for p in range(1, 9):
        e.person(p)
        e.condition(p, SLE, "2024-01-01")
        e.lab(p, HB, "2026-09-01", 12.0, 8713, "g/dL")
    e.concept(DSDNA, "LOINC", "5130-0", "DNA double strand Ab")
    e.lab(1, DSDNA, "2026-01-01", 50.0, 8985, "IU/mL", range_high=30.0)
    return e


@pytest.fixture(scope="module")
def cli_run(spark, tmp_path_factory):
    """cli.main on the shared session (the CLI's `spark.stop()` is a no-op here): (exit code, stderr)."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "c.yaml").write_text(CRITERIA)
    stop = spark.stop
    spark.stop = lambda: None

    def run(omop: Path, out: Path, as_of: str | None = AS_OF) -> tuple[int, str]:
        import contextlib
        import io

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = cli.main(["run", "--omop", str(omop), "--criteria", str(root / "c.yaml"), "--out", str(out)]
                            + (["--as-of", as_of] if as_of else []))
        return code, err.getvalue()

    import jobs.session

    real = jobs.session.build_session
    jobs.session.build_session = lambda *a, **k: spark
    try:
        yield run, root
    finally:
        jobs.session.build_session = real
        spark.stop = stop


def _messages(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("cohort-finder:")]


# --------------------------------------------------------------------------- one run, every row-level case
@pytest.fixture(scope="module")
def hostile_run(cli_run):
    run, root = cli_run
    e = _base()
    e.lab(2, DSDNA, "2026-02-01", float("nan"), 8985, "IU/mL", range_high=30.0)  # NaN read against range_high
    e.lab(3, DSDNA, "2026-02-01", float("inf"), 8985, "IU/mL", range_high=30.0)
    e.lab(4, HB, "2026-09-20", float("-inf"), 8713, "g/dL")  # latest Hb is -Inf: not evidence, the 12 stands
    e.lab(5, DSDNA, "2026-02-01", 50.0, 8985, "IU/mL", range_high=float("nan"))
    e.drug(6, PRED, "2026-09-01", days_supply=99999999999)  # beyond 32 bits
    e.lab(99, HB, "2026-09-01", 12.0, 8713, "g/dL")  # orphan measurement
    e.lab(7, DSDNA, "9999-12-31", 50.0, 8985, "IU/mL", range_high=30.0)  # far-future result
    e.condition(8, SLE, "9999-12-31")
    e.death(8, "1950-01-01")  # before the birth year 1980, on or before as-of: deceased, flagged
    e.care_site(1, "Clinique X")
    omop = e.write(root / "rows" / "omop")
    site = omop / "care_site.csv"  # a Latin-1 export: read as U+FFFD, flagged
    site.write_bytes(site.read_bytes().replace(b"Clinique X", "Clinique Hôpital".encode("latin-1")))
    text = (omop / "measurement.csv").read_text()
    (omop / "measurement.csv").write_text(text.replace(",nan,", ",NaN,").replace(",-inf,", ",-Infinity,")
                                          .replace(",inf,", ",Inf,"))
    parts = omop / "person"  # the person table as a part folder with a README beside the part
    parts.mkdir()
    (omop / "person.csv").rename(parts / "part-00000.csv")
    (parts / "README.md").write_text("# person\nexported 2026-10-01, see the data dictionary\n")
    out = root / "rows" / "out"
    code, err = run(omop, out)
    return code, err, out


@pytest.mark.slow  # a whole extra pipeline run: in CI's slow suite, keeps `make test` under 10 min
def test_row_level_hostile_values_are_quarantined_never_evidence_and_everyone_is_accounted_for(hostile_run):
    code, err, out = hostile_run
    assert code == 0, err
    assert not any(s in err for s in ("Traceback", "\tat ", "99999999999")), err
    status = pd.read_parquet(out / "HOSTILE" / "person_status")
    assert sorted(status.person_id) == list(range(1, 9))  # the README.md was not read as person rows
    by_person = dict(zip(status.person_id, status.status, strict=True))
    results = pd.read_parquet(out / "HOSTILE" / "criteria_results").set_index(["person_id", "criterion"])
    outcome = results["outcome"].to_dict()
    assert by_person[1] == "eligible" and outcome[(1, "dsdna")] == "pass"
    # the only anti-dsDNA result of 2, 3, 5 and 7 is no evidence: unknown (before: NaN > range_high was positive)
    for pid, what in ((2, "NaN value"), (3, "+Inf value"), (5, "NaN range_high"), (7, "dated 9999-12-31")):
        assert outcome[(pid, "dsdna")] == "unknown" and by_person[pid] == "possible", what
    assert outcome[(4, "hb")] == "pass" and results.loc[(4, "hb"), "evidence_value"] == 12.0, "-Inf skipped"
    assert outcome[(6, "steroid")] == "pass", "a days_supply beyond 32 bits is no exposure"
    q = pd.read_parquet(out / "quarantine")
    reasons = q.groupby(["table", "reason"]).size().to_dict()
    assert reasons[("measurement", "malformed value")] == 4  # NaN, Inf, -Inf values and the NaN range_high
    assert reasons[("measurement", "orphan person_id")] == 1
    assert reasons[("measurement", "date out of range")] == 1
    assert reasons[("condition_occurrence", "date out of range")] == 1
    assert reasons[("drug_exposure", "malformed value")] == 1  # days_supply beyond 32 bits
    manifest = json.loads((out / "manifest.json").read_text())
    death = [r for r in manifest["quality"]["results"] if r["table"] == "death"
             and r["expectation"] == "expect_column_values_to_not_be_before_birth_year"]
    assert death and death[0]["unexpected_count"] == 1 and death[0]["severity"] == "warn"
    latin1 = [r for r in manifest["quality"]["results"] if r["table"] == "care_site"
              and r["expectation"] == "expect_column_values_to_be_valid_utf8"]
    assert latin1 and latin1[0]["unexpected_count"] == 1 and not latin1[0]["success"]
    assert by_person[8] == "ineligible"  # still deceased: the implausible death is flagged, not dropped
    assert manifest["persons"] == 8


# ------------------------------------------------------------------------------------------- refusals
def _write(root: Path, name: str, change) -> Path:
    omop = _base().write(root / name / "omop")
    change(omop)
    return omop


def _dangling(omop: Path) -> None:
    (omop / "measurement.csv").unlink()
    os.symlink(omop / "nowhere" / "measurement.csv", omop / "measurement.csv")


def _int_dates(omop: Path) -> None:
    df = pd.read_csv(omop / "measurement.csv")
    df["measurement_date"] = df["measurement_date"].str.replace("-", "").astype("int32")
    (omop / "measurement.csv").unlink()
    df.to_parquet(omop / "measurement.parquet")


def _append(table: str, line_of):
    def change(omop: Path) -> None:
        path = omop / f"{table}.csv"
        lines = path.read_text().splitlines()
        path.write_text("\n".join([*lines, line_of(lines)]) + "\n")
    return change


def _bad_person_part(omop: Path) -> None:
    parts = omop / "person"
    parts.mkdir()
    pd.read_csv(omop / "person.csv").to_parquet(parts / "part-0.parquet")
    (omop / "person.csv").unlink()
    (parts / "part-1.parquet").write_bytes(b"PAR1 not really parquet")


def _release_date(omop: Path) -> None:
    (omop / "cdm_source.csv").write_text("cdm_source_name,cdm_source_abbreviation,cdm_holder,source_release_date,"
                                         "cdm_release_date,cdm_version_concept_id,vocabulary_version\n"
                                         "x,x,x,0001-01-01,2026-01-01,756265,v5\n")


REFUSALS = [
    ("a dangling symlink for a table", _dangling, AS_OF,
     "table measurement: measurement.csv in --omop is a symbolic link to a file that does not exist"),
    ("Parquet dates stored as int32 yyyymmdd", _int_dates, AS_OF,
     "table measurement: column measurement_date is stored as int in"),
    ("a duplicate concept_id", _append("concept", lambda ls: ls[1].replace("DNA double strand", "again")), AS_OF,
     f"table concept: concept_id {DSDNA} appears 2 times"),
    ("a malformed concept_id for a code the criteria use", _append("concept", lambda ls: ls[1].replace(
        str(DSDNA), "30112x7", 1)), AS_OF, "table concept: 1 row(s) for codes the criteria use have a malformed"),
    ("a malformed id in concept_ancestor", _append("concept_ancestor", lambda ls: f"{SLE},4x,1,1"), AS_OF,
     "table concept_ancestor: 1 row(s) have a malformed or null"),
    ("an unreadable person/ part", _bad_person_part, AS_OF, "table person: cannot"),
    ("cdm_source dated 0001-01-01 and no --as-of", _release_date, None,
     "cdm_source.source_release_date: the screening date 0001-01-01 is outside the supported range"),
]


@pytest.mark.parametrize("case, change, as_of, says", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_extracts_end_in_one_line_naming_the_table_and_exit_2(cli_run, case, change, as_of, says):
    run, root = cli_run
    name = case.replace(" ", "_").replace("/", "")
    omop = _write(root, name, change)
    code, err = run(omop, root / name / "out", as_of)
    messages = _messages(err)
    assert code == 2, (case, err)
    assert len(messages) == 1 and says in messages[0], (case, err)
    assert not any(s in err for s in ("Traceback", "\tat ", "java.lang.")), (case, err)
    assert not (root / name / "out").exists(), case


def test_out_below_a_regular_file_is_refused_before_reading(cli_run, tmp_path):
    run, root = cli_run
    (tmp_path / "file.txt").write_text("mine\n")
    code, err = run(_write(root, "out_below_file", lambda omop: None), tmp_path / "file.txt" / "out")
    assert code == 2 and "is a regular file, not a folder" in _messages(err)[0], err
    assert (tmp_path / "file.txt").read_text() == "mine\n"
