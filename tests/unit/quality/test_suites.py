"""Expectation suites (jobs.quality.suites) load and validate, every allowed expectation type has a flag, the lab
ranges agree with the criteria file, and the gate's metric sizing (jobs.quality.metrics) is right. No Spark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.quality.flags import FLAGS
from jobs.quality.metrics import bitmap_fits, key_partitions
from jobs.quality.suites import GX_TYPES, HOUSE_TYPES, PLAUSIBLE, SuiteError, load_suites
from schemas.features import plan_features
from schemas.units import convertible

TABLES = ["person", "observation_period", "death", "condition_occurrence", "drug_exposure", "procedure_occurrence",
          "measurement", "observation", "visit_occurrence", "care_site", "location", "cdm_source", "concept",
          "concept_ancestor"]
# expectation types the gate decides itself (from the schema, the row count, the key counts), not by a row flag
DECIDED_BY_THE_GATE = {"expect_table_row_count_to_be_between", "expect_column_to_exist",
                       "expect_column_values_to_be_unique"}


def test_every_table_has_a_suite_and_every_expectation_a_severity_and_rationale():
    suites = load_suites()
    assert {s.table for s in suites.values()} == set(TABLES) | {"lab_results"}
    for suite in suites.values():
        assert suite.checks, suite.name
        for check in suite.checks:
            assert check.severity in ("error", "warn")
            assert check.why
    person = {(c.type, c.column): c.severity for c in suites["person"].checks}
    assert person[("expect_column_values_to_be_unique", "person_id")] == "error"
    assert person[("expect_column_values_to_not_be_null", "person_id")] == "error"
    assert person[("expect_column_values_to_not_be_null", "year_of_birth")] == "warn"


def test_every_expectation_type_a_suite_may_use_has_a_flag():
    """A type allowed in a suite file but without a registered flag would pass loading and fail in the gate."""
    row_level = (GX_TYPES | set(HOUSE_TYPES)) - DECIDED_BY_THE_GATE - {PLAUSIBLE}  # a template, expanded per lab
    assert DECIDED_BY_THE_GATE <= GX_TYPES
    assert sorted(row_level - set(FLAGS)) == []
    assert sorted(set(FLAGS) - row_level) == []  # and no flag for a type no suite may use
    used = {c.type for s in load_suites().values() for c in s.checks}
    assert used <= GX_TYPES | set(HOUSE_TYPES) and used - DECIDED_BY_THE_GATE - {PLAUSIBLE} <= set(FLAGS)


def _lab_ranges(labs) -> dict[str, tuple]:
    return {c.lab: (c.kwargs["min_value"], c.kwargs["max_value"], c.unit)
            for c in load_suites(labs=labs)["lab_values"].checks if c.lab and c.unit}


def test_lab_ranges_agree_with_the_criteria_file(criteria):
    """Every lab with a plausibility range is a lab of the criteria file, and the range's unit converts to every
    unit the file's rules read that lab in: else a result a rule could use would be quarantined as having an
    unconvertible unit (value_canonical is null), or a range could never apply."""
    ranges = _lab_ranges(criteria.labs)
    assert sorted(set(ranges) - set(criteria.labs)) == []
    asked = plan_features(criteria).lab_units()  # every (lab, unit) a rule compares in, derived inputs included
    checked = []
    for lab, (_lo, _hi, unit) in sorted(ranges.items()):
        for target in sorted(asked.get(lab, ())):
            assert convertible(unit, target, criteria.labs[lab].facts), (lab, unit, target)
            checked.append((lab, target))
    # the check is not vacuous: the UPCR, platelet and creatinine (eGFR input) comparisons are among those checked
    assert {("upcr", "g/g"), ("platelets", "/mm3"), ("creatinine", "mg/dL")} <= set(checked)
    assert len({lab for lab, _ in checked}) >= 10
    assert ranges["hemoglobin"] == (2, 25, "g/dL")
    assert ranges["platelets"] == (1, 2000, "10^3/uL")


def _write_suite(tmp_path: Path, expectation: dict) -> Path:
    (tmp_path / "t.json").write_text(json.dumps({"name": "t", "table": "person", "expectations": [expectation]}))
    return tmp_path


def test_a_typo_in_an_expectation_type_is_a_clear_error(tmp_path):
    d = _write_suite(tmp_path, {"type": "expect_column_values_to_not_be_nul", "kwargs": {"column": "person_id"},
                                "meta": {"severity": "error", "why": "x"}})
    with pytest.raises(SuiteError, match=r"t.json: expectation #1: unknown expectation type .*did you mean "
                                         r"'expect_column_values_to_not_be_null'"):
        load_suites(d)


@pytest.mark.parametrize("expectation, match", [
    ({"type": "expect_column_values_to_be_between", "kwargs": {"colum": "x", "min_value": 1},
      "meta": {"severity": "warn", "why": "x"}}, "invalid kwargs"),
    ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"},
      "meta": {"severity": "fatal", "why": "x"}}, "severity must be"),
    ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}, "meta": {"severity": "warn"}},
     "meta.why"),
    ({"type": "expect_column_values_to_parse", "kwargs": {"col": "x"}, "meta": {"severity": "warn", "why": "x"}},
     "kwargs must be"),
    ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "d", "max_value": {"$PARAMETER": "now"}},
      "meta": {"severity": "warn", "why": "x"}}, "unknown parameter"),
])
def test_bad_expectations_are_rejected_when_suites_load(tmp_path, expectation, match):
    with pytest.raises(SuiteError, match=match):
        load_suites(_write_suite(tmp_path, expectation))


def test_key_checks_are_partitioned_by_the_row_count():
    assert key_partitions(None) is None and key_partitions(250_000) is None  # small: AQE decides
    assert key_partitions(250_001) == 2
    assert key_partitions(33_700_000) == 135  # measurement_id at 1M persons


def test_only_dense_integral_keys_take_the_bitmap_count():
    assert bitmap_fits(33_717_099, 1, 33_717_099)  # measurement_id at 1M persons: 1,029 buckets
    assert bitmap_fits(256, 1, 256) and not bitmap_fits(255, 1, 255)  # at least 256 keys per bucket
    assert not bitmap_fits(1_000_000, 1, 10**15)  # sparse (hashed) ids: the exact groupBy
    assert not bitmap_fits(0, None, None) and not bitmap_fits(None, None, None)


def test_the_plausibility_template_expands_per_lab_from_the_lab_definitions():
    """Ranges come from the lab definitions (catalogue or trial), not from lab_values.json: a new lab gets its
    range check, a lab without a range a check that says it has none (and never quarantines)."""
    from schemas.labs import LabDefinition

    labs = {"hba1c": LabDefinition(name="HbA1c", concept_set="a", plausible={"min": 2, "max": 20, "unit": "%"}),
            "nyha": LabDefinition(name="NYHA", concept_set="b")}
    template = [c for c in load_suites()["lab_values"].checks if c.type == PLAUSIBLE]
    assert len(template) == 1 and template[0].lab is None  # no lab names in the suite file
    checks = [c for c in load_suites(labs=labs)["lab_values"].checks if c.lab]
    assert [(c.type, c.lab, c.kwargs, c.unit, c.quarantine) for c in checks] == [
        ("expect_column_values_to_be_between", "hba1c", {"column": "value_canonical", "min_value": 2, "max_value": 20},
         "%", "implausible value"),
        (PLAUSIBLE, "nyha", {"column": "value_canonical"}, None, None)]
    assert "nyha has no plausible range" in checks[1].why
