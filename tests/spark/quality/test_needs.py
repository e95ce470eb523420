"""A table or column a criterion reads that the extract lacks is an error, or a loud warning when allowed (15.4)."""

from __future__ import annotations

import pytest

from jobs.errors import InputError
from jobs.extract.inputs import read_tables
from jobs.extract.reader import OmopExtract
from jobs.quality.needs import FLAG, check_needs, criteria_needs, unmet_needs
from tests.support.omop_builder import ALL_TABLES, TRUNCATED_MEASUREMENT, Extract, drop_columns

pytestmark = pytest.mark.spark
CLINICAL = ("condition_occurrence", "observation", "procedure_occurrence", "drug_exposure", "measurement")


def _read(spark, folder):
    """The reader's report (it records absent tables and columns as it reads) and the rows per clinical table
    (the gate's element counts in a run)."""
    extract = OmopExtract(spark, str(folder))
    frames = read_tables(extract)
    rows = {t: frames[t].count() for t in CLINICAL if t not in extract.report.missing_tables}
    return extract.report, rows


def test_the_registry_knows_what_each_criterion_reads(criteria):
    needs = criteria_needs(criteria)
    by_columns = {(n.tables, n.columns): users for n, users in needs.items()}
    assert "gen_exc_1" in by_columns[(("measurement",), ("value_as_number",))]
    assert "ln_inc_4" in by_columns[(("measurement",), ("value_as_concept_id", "value_as_number"))]
    assert by_columns[(("drug_exposure",), ())][0] == "gen_inc_2"
    assert "pmn_exc_1" in by_columns[(("condition_occurrence", "observation"), ())]
    assert not any("sys_alive" in u or "gen_inc_1" in u for u in needs.values())  # person only


def test_truncated_measurement_and_absent_tables_are_named_with_their_criteria(spark, criteria, tmp_path):
    e = Extract().person(1).lab(1, 3001582, "2026-09-01", 2.0, 9510).condition(1, 257628, "2025-01-01")
    absent = ("drug_exposure", "procedure_occurrence")
    folder = e.write(tmp_path / "x", tables=[t for t in ALL_TABLES if t not in absent])
    drop_columns(folder / "measurement.csv", TRUNCATED_MEASUREMENT)
    lines = unmet_needs(criteria, *_read(spark, folder))
    assert any(ln.startswith("table measurement: column value_as_number absent: read by ") and "gen_exc_1" in ln
               and "pmn_inc_2" in ln for ln in lines), lines
    assert any(ln.startswith("table measurement: column unit_concept_id / unit_source_value absent") for ln in lines)
    assert any(ln.startswith("table measurement: column value_as_concept_id / value_as_number absent")
               and "pmn_inc_3" in ln for ln in lines)
    assert any(ln.startswith("table drug_exposure (not found): read by gen_inc_2") for ln in lines), lines
    assert any(ln.startswith("table procedure_occurrence (not found)") and "ln_inc_2" in ln for ln in lines)
    assert not any("condition_occurrence" in ln for ln in lines)  # present with rows
    assert len(lines) == 5
    read = _read(spark, folder)
    with pytest.raises(InputError) as err:
        check_needs(criteria, *read, allow=False)
    assert err.value.exit_code == 2 and FLAG in str(err.value) and "value_as_number" in str(err.value)
    warned = check_needs(criteria, *read, allow=True)
    assert len(warned) == 5 and all(FLAG in w for w in warned)


def test_an_empty_table_counts_as_absent_but_a_complete_extract_has_no_gap(spark, criteria, tmp_path):
    e = Extract().person(1).lab(1, 3001582, "2026-09-01", 2.0, 9510).condition(1, 257628, "2025-01-01")
    e.drug(1, 1308216, "2026-01-01", "2026-03-01").procedure(1, 4217034, "2026-05-01").observation(1, 4013106,
                                                                                                  "2020-01-01")
    assert unmet_needs(criteria, *_read(spark, e.write(tmp_path / "full"))) == []
    only_person = Extract().person(1).write(tmp_path / "empty")  # every clinical table: a header, no rows
    lines = unmet_needs(criteria, *_read(spark, only_person))
    assert any(ln.startswith("table condition_occurrence (empty) / observation (empty): read by ")
               for ln in lines), lines
    assert any(ln.startswith("table measurement (empty)") for ln in lines)
