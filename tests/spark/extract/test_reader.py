"""A matrix of corrupted OMOP extracts, each built in tmp_path, each with its documented outcome.

Outcomes: `InputError` naming table and column (exit 2) | rows read with `_malformed` naming the column |
quarantined by quarantine_split / lab_quarantine_split with a reason | gate error (`QualityGateError`).
Never a raw traceback: every failure asserted here is a `CohortFinderError` with a message checked.
"""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from jobs.errors import InputError, QualityGateError
from jobs.extract.reader import ABSENT, MALFORMED, RECORD, OmopExtract
from jobs.quality.gate import run_gate
from jobs.quality.quarantine import REASON, lab_quarantine_split, quarantine_split
from jobs.quality.suites import load_suites

pytestmark = pytest.mark.spark
AS_OF = date(2024, 6, 30)

PERSON = "person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id\n" \
         "1,8532,1980,0,0\n2,8507,1990,0,0\n3,8532,1970,0,0\n"
MEAS_HEAD = "measurement_id,person_id,measurement_concept_id,measurement_date,measurement_type_concept_id," \
            "value_as_number,unit_concept_id,unit_source_value\n"
MEAS = MEAS_HEAD + "1,1,3000963,2020-01-01,32817,13.1,8713,g/dL\n2,2,3000963,2020-02-01,32817,12.0,8713,g/dL\n"
P_COLS = ["person_id", "gender_concept_id", "year_of_birth"]
M_COLS = ["measurement_id", "person_id", "measurement_concept_id", "measurement_date", "value_as_number",
          "unit_source_value"]


@pytest.fixture(scope="module")
def suites():
    return load_suites()


def extract(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (relative path -> text or bytes) under `root`; text is written byte-exact (no newline
    translation), so CRLF and BOM cases mean what they say."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


def rows(df, *cols):
    return [tuple(r[c] for c in cols) for r in df.orderBy(cols[0]).collect()]


def gate_for(spark, suites, frames, tables):
    return run_gate(spark, frames, as_of=AS_OF, suites={t: suites[t] for t in tables})


# ------------------------------------------------------------------------------------------- InputError outcomes
def test_a_missing_person_table_is_an_input_error_naming_it(spark, tmp_path):
    ex = OmopExtract(spark, str(extract(tmp_path, {"measurement.csv": MEAS})))
    with pytest.raises(InputError, match=r"table person: not found in .*required"):
        ex.read("person", P_COLS, required=True)


def test_a_missing_required_column_is_an_input_error_naming_table_and_column(spark, tmp_path):
    text = MEAS.replace(",measurement_date", "")
    ex = OmopExtract(spark, str(extract(tmp_path, {"person.csv": PERSON, "measurement.csv": text})))
    with pytest.raises(InputError, match=r"table measurement: required column measurement_date is missing"):
        ex.read("measurement", M_COLS)


def test_a_missing_optional_column_is_read_as_null_and_reported(spark, tmp_path):
    text = MEAS_HEAD.replace(",unit_source_value", "") + "1,1,3000963,2020-01-01,32817,13.1,8713\n"
    ex = OmopExtract(spark, str(extract(tmp_path, {"measurement.csv": text})))
    df = ex.read("measurement", M_COLS)
    assert rows(df, "measurement_id", "unit_source_value", MALFORMED) == [(1, None, [])]
    assert df.schema["unit_source_value"].metadata.get(ABSENT) is True
    assert ex.report.missing_optional_columns == {"measurement": ["unit_source_value"]}


def test_empty_blank_and_header_only_files_give_zero_rows(spark, tmp_path):
    ex = OmopExtract(spark, str(extract(tmp_path, {"person.csv": PERSON, "measurement.csv": "",
                                                   "death.csv": "person_id,death_date\r\n",
                                                   "observation.csv": "\n\n"})))
    assert ex.read("measurement", M_COLS).count() == 0
    assert ex.read("death", ["person_id", "death_date"]).count() == 0
    assert ex.read("observation", ["person_id"]).count() == 0
    assert set(ex.report.empty_tables) == {"measurement", "observation"}
    with pytest.raises(InputError, match="table measurement: empty"):
        ex.read("measurement", M_COLS, required=True)


def test_a_truncated_gzip_file_is_an_input_error_when_read_or_at_the_gate(spark, tmp_path, suites):
    whole = gzip.compress(PERSON.encode() * 2000)
    ex = OmopExtract(spark, str(extract(tmp_path / "a", {"person.csv.gz": whole[:40]})))
    with pytest.raises(InputError, match=r"table person: cannot read .*person.csv.gz as csv \(.*FAILED_READ_FILE"):
        ex.read("person", P_COLS, required=True)
    # the header part is fine, a later part file is truncated: found when the gate scans it
    ex = OmopExtract(spark, str(extract(tmp_path / "b", {"person/part-0.csv.gz": gzip.compress(PERSON.encode()),
                                                         "person/part-1.csv.gz": whole[: len(whole) // 2]})))
    frames = {"person": ex.read("person", P_COLS, required=True)}
    with pytest.raises(InputError, match=r"table person: cannot be read while checking it \(.*FAILED_READ_FILE"):
        gate_for(spark, suites, frames, ["person"])


# ------------------------------------------------------------------------------------------- read correctly
def test_a_byte_order_mark_and_crlf_line_ends_are_read(spark, tmp_path):
    text = "\ufeff" + PERSON.replace("\n", "\r\n")
    df = OmopExtract(spark, str(extract(tmp_path, {"person.csv": text}))).read("person", P_COLS)
    assert rows(df, "person_id", "year_of_birth", MALFORMED) == [(1, 1980, []), (2, 1990, []), (3, 1970, [])]


def test_quoted_fields_keep_commas_and_quotes_and_empty_strings_are_null(spark, tmp_path):
    text = ('care_site_id,care_site_name,location_id\n1,"Clinic, North ""A""",7\n2,"",\n3,,""\n')
    df = OmopExtract(spark, str(extract(tmp_path, {"care_site.csv": text}))).read(
        "care_site", ["care_site_id", "care_site_name", "location_id"])
    assert rows(df, "care_site_id", "care_site_name", "location_id", MALFORMED) == [
        (1, 'Clinic, North "A"', 7, []), (2, None, None, []), (3, None, None, [])]


def test_gzip_files_and_folders_of_part_files_are_read(spark, tmp_path):
    parts = {"measurement/part-00000.csv": MEAS,
             "measurement/part-00001.csv": MEAS_HEAD + "3,3,3000963,2020-03-01,32817,11.0,8713,g/dL\n",
             "measurement/_SUCCESS": "", "person.csv.gz": gzip.compress(PERSON.encode())}
    ex = OmopExtract(spark, str(extract(tmp_path, parts)))
    assert rows(ex.read("person", P_COLS), "person_id") == [(1,), (2,), (3,)]
    assert rows(ex.read("measurement", M_COLS), "measurement_id") == [(1,), (2,), (3,)]


def test_cdm53_column_names_are_read_as_their_cdm54_names(spark, tmp_path):
    text = ("visit_occurrence_id,person_id,visit_concept_id,visit_start_date,visit_end_date,visit_type_concept_id,"
            "admitting_source_concept_id,discharge_to_concept_id\n1,1,9201,2020-01-01,2020-01-03,32817,8863,581476\n")
    ex = OmopExtract(spark, str(extract(tmp_path, {"visit_occurrence.csv": text})))
    df = ex.read("visit_occurrence", ["visit_occurrence_id", "person_id", "visit_start_date",
                                      "admitted_from_concept_id", "discharged_to_concept_id"])
    assert rows(df, "visit_occurrence_id", "admitted_from_concept_id", "discharged_to_concept_id") == [
        (1, 8863, 581476)]
    assert ex.report.cdm53_columns == {"visit_occurrence": ["admitting_source_concept_id",
                                                            "discharge_to_concept_id"]}


def test_upper_case_file_names_and_headers_are_read(spark, tmp_path):
    ex = OmopExtract(spark, str(extract(tmp_path, {"PERSON.CSV": PERSON.upper()})))
    assert ex.has("person")
    assert rows(ex.read("person", P_COLS), "person_id", "year_of_birth") == [(1, 1980), (2, 1990), (3, 1970)]


def test_parquet_input_is_typed_and_text_in_a_number_column_is_named(spark, tmp_path):
    spark.createDataFrame([(1, 8532, "1980"), (2, 8507, "nineteen")],
                          "person_id long, gender_concept_id int, year_of_birth string"
                          ).write.parquet(str(tmp_path / "person.parquet"))
    df = OmopExtract(spark, str(tmp_path)).read("person", P_COLS)
    assert rows(df, "person_id", "gender_concept_id", "year_of_birth", MALFORMED) == [
        (1, 8532, 1980, []), (2, 8507, None, ["year_of_birth"])]


# ------------------------------------------------------------------------------------------- malformed -> quarantine
def test_text_in_a_number_column_and_bad_dates_are_named_then_quarantined(spark, tmp_path, suites):
    text = MEAS + "3,1,3000963,2020-13-45,32817,13.0,8713,g/dL\n4,1,3000963,2020-01-05,32817,high,8713,g/dL\n" \
                  "5,1,3000963,05/01/2020,32817,1.5e1,8713,g/dL\n"
    ex = OmopExtract(spark, str(extract(tmp_path, {"person.csv": PERSON, "measurement.csv": text})))
    m = ex.read("measurement", M_COLS)
    assert rows(m, "measurement_id", MALFORMED) == [(1, []), (2, []), (3, ["measurement_date"]),
                                                    (4, ["value_as_number"]), (5, ["measurement_date"])]
    persons = ex.read("person", ["person_id"])
    good, bad = quarantine_split("measurement", m, as_of=AS_OF, persons=persons, suites=suites)
    assert rows(bad, "measurement_id", REASON) == [(3, "malformed value"), (4, "malformed value"),
                                                   (5, "malformed value")]
    assert good.count() == 2


def test_a_line_with_the_wrong_field_count_is_flagged_and_quarantined(spark, tmp_path, suites):
    text = MEAS + "3,1,3000963,2020-01-05,32817,13.0,8713,g/dL,extra\n4,1,3000963\n"
    ex = OmopExtract(spark, str(extract(tmp_path, {"person.csv": PERSON, "measurement.csv": text})))
    m = ex.read("measurement", M_COLS)
    assert rows(m, "measurement_id", MALFORMED) == [(1, []), (2, []), (3, [RECORD]), (4, [RECORD])]
    assert m.select("measurement_id").count() == 4  # pruning does not drop or change rows
    _, bad = quarantine_split("measurement", m, as_of=AS_OF, persons=ex.read("person", ["person_id"]),
                              suites=suites)
    assert rows(bad, "measurement_id", REASON) == [(3, "malformed row"), (4, "malformed row")]


def test_an_orphan_person_id_is_quarantined(spark, tmp_path, suites):
    text = MEAS + "3,99,3000963,2020-03-01,32817,13.0,8713,g/dL\n"
    ex = OmopExtract(spark, str(extract(tmp_path, {"person.csv": PERSON, "measurement.csv": text})))
    good, bad = quarantine_split("measurement", ex.read("measurement", M_COLS), as_of=AS_OF,
                                 persons=ex.read("person", ["person_id"]), suites=suites)
    assert rows(bad, "measurement_id", REASON) == [(3, "orphan person_id")]
    assert good.count() == 2


def test_negative_implausible_and_unit_less_lab_results_are_quarantined(spark, criteria):
    labs = spark.createDataFrame([
        (1, 1, "hemoglobin", date(2024, 1, 1), 13.0, None, "g/dL", 13.0),
        (2, 1, "hemoglobin", date(2024, 1, 1), -2.0, None, "g/dL", -2.0),
        (3, 1, "platelets", date(2024, 1, 1), 250000.0, None, "10^3/uL", 250000.0),
        (4, 1, "creatinine", date(2024, 1, 1), 1.1, None, None, None),
        (5, 1, "upcr", date(2024, 1, 1), 0.0, None, "g/g", 0.0),
    ], "measurement_id long, person_id long, lab string, measurement_date date, value_as_number double,"
       " value_as_concept_id long, unit_key string, value_canonical double")
    good, bad = lab_quarantine_split(labs, load_suites(labs=criteria.labs))  # ranges from the lab catalogue
    assert rows(bad, "measurement_id", REASON) == [(2, "negative value"), (3, "implausible value"),
                                                   (4, "unconvertible unit")]
    assert rows(good, "measurement_id") == [(1,), (5,)]


# ------------------------------------------------------------------------------------------- gate errors
def _person_gate(spark, tmp_path, suites, text):
    ex = OmopExtract(spark, str(extract(tmp_path, {"person.csv": text})))
    return gate_for(spark, suites, {"person": ex.read("person", P_COLS, required=True)}, ["person"])


@pytest.mark.parametrize("case, text, expectation", [
    ("duplicate", PERSON + "3,8507,1971,0,0\n", "person.person_id: expect_column_values_to_be_unique failed for 2"),
    ("null", PERSON + ",8507,1971,0,0\n", "person.person_id: expect_column_values_to_not_be_null failed for 1"),
    ("text", PERSON + "4x,8507,1971,0,0\n", "person.person_id: expect_column_values_to_parse failed for 1"),
    ("fields", PERSON + "4,8507\n", "person: expect_rows_to_have_expected_field_count failed for 1"),
])
def test_bad_person_keys_stop_the_run(spark, tmp_path, suites, case, text, expectation):
    gate = _person_gate(spark, tmp_path, suites, text)
    with pytest.raises(QualityGateError) as info:
        gate.raise_for_errors()
    assert expectation in str(info.value)
    assert "Traceback" not in str(info.value)


def test_bad_optional_person_fields_only_warn(spark, tmp_path, suites):
    gate = _person_gate(spark, tmp_path, suites, PERSON + "4,8507,,0,0\n5,8507,1800,0,0\n")
    gate.raise_for_errors()
    assert sorted((r.expectation, r.column, r.unexpected_count) for r in gate.warnings()) == [
        ("expect_column_values_to_be_between", "year_of_birth", 1),
        ("expect_column_values_to_not_be_null", "year_of_birth", 1)]
