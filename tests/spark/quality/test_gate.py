"""The data-quality gate on hand-built frames (jobs.quality.gate, flags, metrics, quarantine): every check
family can fail with the right count, severities behave, quarantine splits, the stage gates the read stage's
lab results, and no person-level value ever reaches a message. Suite loading and metric sizing (no Spark):
tests/unit/quality/test_suites.py."""

from __future__ import annotations

import json
from datetime import date

import pytest

from jobs.errors import QualityGateError
from jobs.extract.inputs import LAB_RESULTS, prepare_inputs, read_tables
from jobs.extract.reader import ABSENT, MALFORMED, RECORD, OmopExtract
from jobs.quality import metrics
from jobs.quality.gate import gate_inputs, run_gate
from jobs.quality.metrics import bitmap_bucket
from jobs.quality.quarantine import REASON, lab_quarantine_split, quarantine_counts, quarantine_split
from jobs.quality.results import GateResult
from jobs.quality.suites import lab_units, load_suites
from tests.support.omop_builder import Extract

AS_OF = date(2024, 6, 30)
SECRET_PID = 987654321  # person-level values that must never appear in a message
SECRET_VALUE = 123456.75


# ------------------------------------------------------------------------------------------------ frames
def _person(spark, rows):
    return spark.createDataFrame(
        rows, f"person_id long, gender_concept_id long, year_of_birth long, {MALFORMED} array<string>")


def _death(spark, rows):
    return spark.createDataFrame(rows, f"person_id long, death_date date, {MALFORMED} array<string>")


def _measurement(spark, rows):
    return spark.createDataFrame(
        rows, "measurement_id long, person_id long, measurement_concept_id long, measurement_date date,"
              f" value_as_number double, unit_source_value string, {MALFORMED} array<string>")


def _drug(spark, rows):
    return spark.createDataFrame(
        rows, "drug_exposure_id long, person_id long, drug_concept_id long, drug_exposure_start_date date,"
              f" drug_exposure_end_date date, {MALFORMED} array<string>")


def _labs(spark, rows):
    return spark.createDataFrame(
        rows, "measurement_id long, person_id long, lab string, measurement_date date, value_as_number double,"
              " value_as_concept_id long, unit_key string, value_canonical double")


D = date.fromisoformat


@pytest.fixture(scope="module")
def bad_frames(spark):
    person = _person(spark, [
        (1, 8532, 1980, []), (2, 8507, 1990, []),
        (3, 8532, 1970, []), (3, 8532, 1970, []),       # duplicate person_id: 2 rows
        (None, 8532, 1985, []),                          # null person_id
        (None, 8532, 1985, ["person_id"]),               # person_id text that did not parse (read as null)
        (SECRET_PID, 8532, None, ["year_of_birth"]),     # null + malformed year_of_birth: warn only
        (6, 8532, 1850, [RECORD]),                       # wrong field count; birth year before 1900
    ])
    death = _death(spark, [(2, D("2020-01-01"), [])])
    measurement = _measurement(spark, [
        (1, 1, 3000963, D("2020-01-01"), 13.0, "g/dL", []),                     # good
        (2, 404, 3000963, D("2020-01-01"), 13.0, "g/dL", []),                   # orphan
        (3, None, 3000963, D("2020-01-01"), 13.0, "g/dL", []),                  # null person_id
        (4, 1, 3000963, D("2025-01-01"), 13.0, "g/dL", []),                     # after as_of
        (5, 1, 3000963, D("1850-01-01"), SECRET_VALUE, "g/dL", []),             # before 1900 (and birth)
        (6, 1, 3000963, None, None, "g/dL", ["measurement_date", "value_as_number"]),  # malformed
        (7, 2, 3000963, D("2021-03-01"), 13.0, "g/dL", []),                     # > 30 days after death
        (7, 1, 3000963, D("1975-03-01"), 13.0, "g/dL", []),                     # duplicate id; before birth
        (9, 1, 3000963, D("2020-01-01"), 13.0, "g/dL", [RECORD]),               # wrong field count
    ])
    drug = _drug(spark, [
        (1, 1, 19, D("2020-01-01"), D("2020-02-01"), []),
        (2, 1, 19, D("2020-03-01"), D("2020-02-01"), []),  # ends before it starts
        (3, 1, 19, D("2024-06-01"), D("2025-01-01"), []),  # ongoing: end after as_of is fine
    ])
    labs = _labs(spark, [
        (1, 1, "hemoglobin", D("2020-01-01"), 13.0, None, "g/dL", 13.0),
        (2, 1, "hemoglobin", D("2020-01-01"), -1.0, None, "g/dL", -1.0),            # negative
        (3, 1, "hemoglobin", D("2020-01-01"), 130.0, None, "g/dL", 130.0),          # implausible
        (4, 1, "platelets", D("2020-01-01"), SECRET_VALUE, None, None, None),       # no unit
        (5, 1, "anti_dsdna", D("2020-01-01"), 10.0, None, None, None),              # no range, no unit
        (6, 1, "anti_dsdna", D("2020-01-01"), 10.0, None, "IU/mL", None),           # no range: fine
        (7, 1, "egfr", D("2020-01-01"), None, 4181412, None, None),                 # qualitative: fine
    ])
    return {"person": person, "death": death, "measurement": measurement, "drug_exposure": drug}, labs


@pytest.fixture(scope="module")
def suites(criteria):
    return load_suites(labs=criteria.labs)


@pytest.fixture(scope="module")
def gate(spark, bad_frames, suites):
    frames, labs = bad_frames
    return run_gate(spark, frames, as_of=AS_OF, suites=suites, lab_results=labs)


def _find(gate: GateResult, table, expectation, column=None, lab=None):
    hits = [r for r in gate.results if r.table == table and r.expectation == expectation
            and (column is None or r.column == column) and (lab is None or f"{lab} between" in r.message)]
    assert len(hits) == 1, (table, expectation, column, [r.message for r in hits])
    return hits[0]


@pytest.mark.spark
@pytest.mark.parametrize("table, expectation, column, bad, rows, severity", [
    # conformance
    ("person", "expect_column_values_to_parse", "person_id", 1, 8, "error"),
    ("person", "expect_column_values_to_parse", "year_of_birth", 1, 8, "warn"),
    ("person", "expect_rows_to_have_expected_field_count", None, 1, 8, "error"),
    ("measurement", "expect_column_values_to_parse", "value_as_number", 1, 9, "warn"),
    ("measurement", "expect_column_values_to_parse", "measurement_date", 1, 9, "warn"),
    ("measurement", "expect_rows_to_have_expected_field_count", None, 1, 9, "warn"),
    # completeness
    ("person", "expect_column_values_to_not_be_null", "person_id", 2, 8, "error"),
    ("person", "expect_column_values_to_not_be_null", "year_of_birth", 1, 8, "warn"),
    ("measurement", "expect_column_values_to_not_be_null", "person_id", 1, 9, "warn"),
    # uniqueness
    ("person", "expect_column_values_to_be_unique", "person_id", 2, 8, "error"),
    ("measurement", "expect_column_values_to_be_unique", "measurement_id", 2, 9, "warn"),
    # relational
    ("measurement", "expect_column_values_to_exist_in_person", "person_id", 1, 9, "warn"),
    # temporal
    ("measurement", "expect_column_values_to_not_be_after_death", "measurement_date", 1, 9, "warn"),
    ("measurement", "expect_column_values_to_not_be_before_birth_year", "measurement_date", 2, 9, "warn"),
    ("drug_exposure", "expect_column_pair_values_a_to_be_greater_than_b", "drug_exposure_end_date", 1, 3, "warn"),
    # plausibility
    ("person", "expect_column_values_to_be_between", "year_of_birth", 1, 8, "warn"),
    ("lab_results", "expect_lab_values_to_have_convertible_unit", "value_as_number", 2, 7, "warn"),
])
def test_each_check_family_fails_with_the_right_count(gate, table, expectation, column, bad, rows, severity):
    r = _find(gate, table, expectation, column)
    assert (r.success, r.unexpected_count, r.element_count, r.severity) == (False, bad, rows, severity)
    assert table in r.message and expectation in r.message and f"{bad} of {rows}" in r.message


@pytest.mark.spark
def test_duplicate_keys_are_counted_whatever_the_key_partitioning(spark, bad_frames, suites, monkeypatch):
    """The same duplicates when every key check is spread over one partition per two rows (the 1M layout)."""
    frames, labs = bad_frames
    monkeypatch.setattr(metrics, "KEYS_PER_PARTITION", 2)
    spread = run_gate(spark, frames, as_of=AS_OF, suites=suites, lab_results=labs)
    for table, column, bad, rows in (("person", "person_id", 2, 8), ("measurement", "measurement_id", 2, 9)):
        r = _find(spread, table, "expect_column_values_to_be_unique", column)
        assert (r.success, r.unexpected_count, r.element_count) == (False, bad, rows)


@pytest.mark.spark
def test_bitmap_buckets_are_sparks(spark):
    """bitmap_fits sizes the bitmaps with bitmap_bucket; it must agree with Spark's own bucket numbers."""
    from pyspark.sql import functions as F

    values = [-70_000, -32_769, -32_768, -32_767, -1, 0, 1, 32_767, 32_768, 32_769, 65_536, 65_537, 2**40 + 3]
    got = spark.createDataFrame([(v,) for v in values], "v long").select(
        "v", F.bitmap_bucket_number("v").alias("b")).collect()
    assert {r["v"]: r["b"] for r in got} == {v: bitmap_bucket(v) for v in values}


@pytest.mark.spark
def test_duplicate_keys_are_counted_the_same_through_the_bitmaps(spark, bad_frames, suites, monkeypatch):
    """With every key dense enough for bitmaps: a duplicated key is found and then counted exactly (the rows
    involved, as before); a clean key costs no exact groupBy; negative and zero ids are distinct values."""
    frames, labs = bad_frames
    monkeypatch.setattr(metrics, "KEYS_PER_BITMAP", 1)
    exact_calls: list[str] = []
    original = metrics.MetricPlan.duplicate_aggregate

    def spy(self, i, rows=None):
        exact_calls.append(f"{self.suite.table}.{self.key_column(i)}")
        return original(self, i, rows)

    monkeypatch.setattr(metrics.MetricPlan, "duplicate_aggregate", spy)
    clean_drugs = _drug(spark, [(-5, 1, 19, D("2020-01-01"), None, []), (0, 1, 19, D("2020-01-01"), None, []),
                                (-32_768, 1, 19, D("2020-01-01"), None, []), (5, 1, 19, D("2020-01-01"), None, [])])
    dup_drugs = _drug(spark, [(-5, 1, 19, D("2020-01-01"), None, []), (-5, 1, 19, D("2020-01-01"), None, []),
                              (None, 1, 19, D("2020-01-01"), None, []), (5, 1, 19, D("2020-01-01"), None, [])])
    for drugs, bad in ((clean_drugs, 0), (dup_drugs, 2)):
        exact_calls.clear()
        gate = run_gate(spark, {**frames, "drug_exposure": drugs}, as_of=AS_OF, suites=suites, lab_results=labs)
        for table, column, dups, rows in (("person", "person_id", 2, 8), ("measurement", "measurement_id", 2, 9),
                                          ("drug_exposure", "drug_exposure_id", bad, 4)):
            r = _find(gate, table, "expect_column_values_to_be_unique", column)
            assert (r.success, r.unexpected_count, r.element_count) == (dups == 0, dups, rows), column
        expected = {"person.person_id", "measurement.measurement_id"} | ({"drug_exposure.drug_exposure_id"} if bad
                                                                          else set())
        assert set(exact_calls) == expected  # only the duplicated keys were counted row by row


@pytest.mark.spark
def test_date_range_and_lab_range_checks(gate):
    start = [r for r in gate.results if r.table == "measurement" and r.column == "measurement_date"
             and r.expectation == "expect_column_values_to_be_between"]
    assert [(r.unexpected_count, r.success) for r in start] == [(2, False)]  # 2025 > as_of, 1850 < 1900
    end = [r for r in gate.results if r.table == "drug_exposure" and r.column == "drug_exposure_end_date"
           and r.expectation == "expect_column_values_to_be_between"]
    assert [r.unexpected_count for r in end] == [0]  # an ongoing drug ending after as_of is not implausible
    assert _find(gate, "lab_results", "expect_column_values_to_be_between", "value_as_number").unexpected_count == 1
    hb = _find(gate, "lab_results", "expect_column_values_to_be_between", "value_canonical", lab="hemoglobin")
    assert (hb.success, hb.unexpected_count) == (False, 2)  # -1 and 130 g/dL
    assert _find(gate, "lab_results", "expect_column_values_to_be_between", lab="platelets").success


@pytest.mark.spark
def test_unread_columns_and_tables_are_skipped_not_failed(gate):
    skipped = [r for r in gate.results if r.skipped]
    assert all(r.success for r in skipped)
    assert any(r.table == "measurement" and r.column == "unit_concept_id" for r in skipped)
    assert any(r.table == "visit_occurrence" and r.expectation == "suite" for r in skipped)
    assert gate.to_manifest()["skipped"] == len(skipped)


@pytest.mark.spark
def test_errors_stop_the_run_with_one_line_each(gate):
    errors = gate.errors()
    assert {(r.table, r.expectation, r.column) for r in errors} == {
        ("person", "expect_column_values_to_parse", "person_id"),
        ("person", "expect_rows_to_have_expected_field_count", None),
        ("person", "expect_column_values_to_not_be_null", "person_id"),
        ("person", "expect_column_values_to_be_unique", "person_id"),
    }
    with pytest.raises(QualityGateError) as info:
        gate.raise_for_errors()
    lines = str(info.value).splitlines()
    assert len(lines) == 1 + len(errors)
    assert "person.person_id: expect_column_values_to_be_unique failed for 2 of 8 rows" in str(info.value)


@pytest.mark.spark
def test_no_person_level_value_in_any_message(gate):
    text = "\n".join([json.dumps(gate.to_manifest(), default=str), gate.to_markdown(), gate.summary_text()])
    assert str(SECRET_PID) not in text
    assert "123456" not in text
    assert "FAILED" in gate.summary_text() and "| error | person | person_id |" in gate.to_markdown()


@pytest.mark.spark
def test_warnings_alone_let_the_run_continue(spark, bad_frames, suites):
    frames, _ = bad_frames
    only = {k: suites[k] for k in ("drug_exposure",)}
    gate = run_gate(spark, {"drug_exposure": frames["drug_exposure"]}, as_of=AS_OF, suites=only)
    assert gate.warnings() and not gate.errors()
    gate.raise_for_errors()  # does not raise
    assert gate.to_manifest()["passed"] is True


@pytest.mark.spark
def test_a_required_column_filled_with_nulls_by_the_reader_is_an_error(spark, suites):
    df = spark.createDataFrame([(1, None)], f"person_id long, {MALFORMED} array<string>")
    from pyspark.sql import functions as F
    df = df.select("person_id", F.lit(None).cast("long").alias("year_of_birth", metadata={ABSENT: True}), MALFORMED)
    gate = run_gate(spark, {"person": df}, as_of=AS_OF, suites={"person": suites["person"]})
    r = _find(gate, "person", "expect_column_to_exist", "year_of_birth")
    assert (r.success, r.severity) == (False, "error") and "filled with nulls" in r.message
    assert _find(gate, "person", "expect_column_to_exist", "person_id").success


@pytest.mark.spark
def test_quarantine_split_counts_and_reasons(spark, bad_frames, suites):
    frames, _ = bad_frames
    persons = frames["person"].select("person_id")
    good, bad = quarantine_split("measurement", frames["measurement"], as_of=AS_OF, persons=persons, suites=suites)
    assert good.columns == frames["measurement"].columns
    assert bad.columns == [*frames["measurement"].columns, REASON]
    reasons = {r["measurement_id"]: r[REASON] for r in bad.collect()}
    assert reasons == {2: "orphan person_id", 3: "null required field", 4: "date out of range",
                       5: "date out of range", 6: "malformed value", 9: "malformed row"}
    assert sorted(r["measurement_id"] for r in good.collect()) == [1, 7, 7]  # counted-only rules keep rows
    g2, b2 = quarantine_split("drug_exposure", frames["drug_exposure"], as_of=AS_OF, persons=persons, suites=suites)
    assert [(r["drug_exposure_id"], r[REASON]) for r in b2.collect()] == [(2, "end before start")]
    assert g2.count() == 2
    g3, b3 = quarantine_split("person", frames["person"], as_of=AS_OF, persons=persons, suites=suites)
    assert g3.count() == 8 and b3.count() == 0  # person rows are never quarantined (errors stop the run)


@pytest.mark.spark
def test_lab_quarantine_split_counts_and_reasons(bad_frames, suites):
    _, labs = bad_frames
    good, bad = lab_quarantine_split(labs, suites)
    assert {r["measurement_id"]: r[REASON] for r in bad.collect()} == {
        2: "negative value", 3: "implausible value", 4: "unconvertible unit", 5: "unconvertible unit"}
    assert sorted(r["measurement_id"] for r in good.collect()) == [1, 6, 7]
    assert good.columns == labs.columns


@pytest.mark.spark
def test_gate_passes_on_synthea(spark, synthea_dir, suites):
    frames = read_tables(OmopExtract(spark, str(synthea_dir)))
    gate = run_gate(spark, frames, as_of=date(2023, 1, 1), suites=suites)
    assert not gate.errors(), gate.summary_text()
    gate.raise_for_errors()
    assert gate.to_manifest()["evaluated"] > 40


@pytest.mark.spark
def test_the_quality_stage_gates_the_read_stage_and_splits_off_the_quarantine(spark, criteria, suites, tmp_path):
    """gate_inputs on what prepare_inputs read (the tables plus LAB_RESULTS, value_canonical computed in the read
    stage): error checks pass, quarantined rows leave the evidence frames (an unconvertible lab result stays only
flagged, never evidence), value_canonical is not evidence."""
    e = Extract()
    e.person(1, "female", "1980-01-15").person(2, "male", "1970-01-01")
    e.lab(1, 3000963, "2024-05-01", 120.0, 8636)  # hemoglobin 120 g/L = 12 g/dL: evidence
    e.lab(1, 3000963, "2024-05-02", 130.0, 8713)  # 130 g/dL: implausible
    e.lab(2, 3000963, "2024-05-03", 5.0, 0, "furlongs")  # a unit nobody knows: unconvertible
    e.condition(99, 201826, "2024-01-01")  # nobody's: orphan
    inputs = prepare_inputs(spark, OmopExtract(spark, str(e.write(tmp_path / "omop"))), criteria, lab_units(suites))
    assert "value_canonical" in inputs.frames[LAB_RESULTS].columns
    outcome = gate_inputs(spark, inputs.frames, as_of=AS_OF, suites=suites)
    try:
        assert not outcome.gate.errors() and outcome.gate.warnings()
        labs = outcome.frames[LAB_RESULTS]
        assert "value_canonical" not in labs.columns
        # the unconvertible result stays beside the evidence, flagged, to be counted in the evidence text
        assert sorted((r["measurement_id"], r["lab"], r["unit_unconvertible"]) for r in labs.collect()) == [
            (1, "hemoglobin", False), (3, "hemoglobin", True)]
        assert outcome.frames["condition_occurrence"].count() == 0
        counts = quarantine_counts(outcome.quarantined)
        assert counts["measurement"] == {"implausible value": 1, "unconvertible unit": 1}
        assert counts["condition_occurrence"] == {"orphan person_id": 1}
        assert outcome.rows_read["person"] == 2 and outcome.cached
    finally:
        outcome.release()
    assert not outcome.cached
    with pytest.raises(QualityGateError, match="--fail-on-quality-warnings"):
        gate_inputs(spark, inputs.frames, as_of=AS_OF, suites=suites, fail_on_warnings=True)
