"""The trial-level criteria table's rows and CSV (jobs/outputs/criteria_tables.py, the pure parts: no Spark)."""

from __future__ import annotations

import csv
import io

from jobs.outputs.criteria_tables import CRITERIA_COLUMNS, criteria_csv, criteria_rows
from jobs.outputs.registry import CRITERIA_CSV, CRITERIA_TABLE, expected_paths


def test_one_row_per_cohort_and_criterion_with_the_constant_result_of_the_person_independent_ones(criteria):
    constants = {"gen_inc_3": {"outcome": "review", "evidence_value": None, "evidence_unit": None,
                               "evidence_date": None, "source_concept_id": None, "evidence": "decided at screening"}}
    rows = criteria_rows(criteria, constants)
    assert len(rows) == sum(len(s.criteria) for s in criteria.cohorts.values())
    assert all(list(r) == list(CRITERIA_COLUMNS) for r in rows)
    for cohort, spec in criteria.cohorts.items():
        mine = [r for r in rows if r["cohort"] == cohort]
        assert [r["criterion"] for r in mine] == spec.criteria
        assert [r["criterion_order"] for r in mine] == list(range(1, len(spec.criteria) + 1))
    fixed = [r for r in rows if r["person_independent"]]
    assert {r["criterion"] for r in fixed} == {"gen_inc_3"} and len(fixed) == len(criteria.cohorts)  # both cohorts
    assert all(r["outcome"] == "review" and r["evidence"] == "decided at screening" for r in fixed)
    other = [r for r in rows if not r["person_independent"]]
    assert all(r["outcome"] is None and r["evidence"] is None for r in other)
    lab = next(r for r in rows if r["criterion"] == "gen_exc_6")
    assert (lab["type"], lab["description"]) == ("exclusion", criteria.criterion("gen_exc_6").text)
    assert lab["kind"] == criteria.criterion("gen_exc_6").rule.kind
    text = criteria_csv(rows)
    back = list(csv.DictReader(io.StringIO(text)))
    assert len(back) == len(rows) and list(back[0]) == list(CRITERIA_COLUMNS)
    assert {r["person_independent"] for r in back} == {"true", "false"}
    assert next(r for r in back if r["person_independent"] == "true")["evidence_date"] == ""


def test_the_criteria_table_is_a_registered_output_of_every_trial():
    paths = expected_paths({"T1": ["a"], "T2": ["b"]})
    for t in ("T1", "T2"):
        assert f"{t}/{CRITERIA_TABLE}" in paths and f"{t}/{CRITERIA_CSV}" in paths
