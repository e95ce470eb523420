"""The default criteria_results and the trial-level criteria table (jobs/outputs/criteria_tables.py) on hand-built
person-level features: person-independent criteria found from the compiled plan, the explaining rows kept, and
the default table equal to the full table filtered by the rule with the person-independent rows expanded."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from jobs.outputs.criteria_tables import constant_results, criteria_rows, independent_columns, results_table
from jobs.rules import evaluation as ev
from jobs.rules.loader import parse_criteria

pytestmark = pytest.mark.spark

SPEC = {
    "trial": "T1", "title": "t", "version": "1", "concept_sets": {},
    "criteria": [
        {"id": "adult", "type": "inclusion", "text": "age 18 or older", "rule": {"kind": "age", "min": 18}},
        {"id": "consent", "type": "inclusion", "text": "consent at the visit",
         "rule": {"kind": "review", "reason": "Consent is obtained at the visit."}},
        {"id": "female", "type": "inclusion", "text": "female", "rule": {"kind": "sex", "allowed": ["female"]}},
        {"id": "alive", "type": "exclusion", "text": "deceased",
         "rule": {"kind": "not", "rule": {"kind": "alive"}}},
        {"id": "opinion", "type": "exclusion", "text": "investigator opinion",
         "rule": {"kind": "review", "reason": "The investigator decides."}},
    ],
    "cohorts": {"x": {"title": "X", "criteria": ["adult", "consent", "female", "alive", "opinion"]},
                "y": {"title": "Y", "criteria": ["opinion", "adult"]}},
}

# person_id, site, age, sex, deceased, death_date
PERSONS = [(1, "s", 40, "female", False, None),  # x eligible, y eligible
           (2, "s", None, "female", False, None),  # age unknown: possible in both
           (3, "s", 40, "male", False, None),  # x: fails female; y eligible
           (4, "s", 12, "male", True, date(2026, 5, 1)),  # fails adult, female and alive (died)
           (5, "s", 30, None, False, None)]  # x: sex unknown -> possible


@pytest.fixture(scope="module")
def built(spark):
    criteria = parse_criteria(yaml.safe_dump(SPEC), "t1.yaml")
    features = spark.createDataFrame(PERSONS, "person_id long, site string, age int, sex string, deceased boolean, "
                                              "death_date date")
    evaluated = ev.evaluate(features, criteria)
    constants = constant_results(spark, evaluated, criteria)
    full = {(r["cohort"], r["person_id"], r["criterion"]): r.asDict()
            for r in results_table(evaluated, criteria, constants, full=True).collect()}
    default = {(r["cohort"], r["person_id"], r["criterion"]): r.asDict()
               for r in results_table(evaluated, criteria, constants, full=False).collect()}
    status = {(r["cohort"], r["person_id"]): r["status"]
              for r in ev.person_status(evaluated, criteria).select("cohort", "person_id", "status").collect()}
    return criteria, evaluated, constants, full, default, status


def test_person_independent_criteria_are_read_from_the_compiled_plan(built):
    criteria, evaluated, constants, *_ = built
    assert set(independent_columns(evaluated)) == {"c__consent", "c__opinion"}  # person_id, site: input columns
    assert constants == {
        "consent": {"outcome": "review", "evidence_value": None, "evidence_unit": None, "evidence_date": None,
                    "source_concept_id": None, "evidence": "Consent is obtained at the visit."},
        "opinion": {"outcome": "review", "evidence_value": None, "evidence_unit": None, "evidence_date": None,
                    "source_concept_id": None, "evidence": "The investigator decides."}}
    rows = criteria_rows(criteria, constants)
    assert [(r["cohort"], r["criterion"], r["criterion_order"], r["kind"], r["person_independent"], r["outcome"])
            for r in rows] == [("x", "adult", 1, "age", False, None), ("x", "consent", 2, "review", True, "review"),
                               ("x", "female", 3, "sex", False, None), ("x", "alive", 4, "not", False, None),
                               ("x", "opinion", 5, "review", True, "review"),
                               ("y", "opinion", 1, "review", True, "review"), ("y", "adult", 2, "age", False, None)]
    assert rows[1]["description"] == "consent at the visit" and rows[1]["type"] == "inclusion"


def test_the_full_table_is_every_person_cohort_and_criterion(built):
    *_, full, _, _ = built
    assert len(full) == len(PERSONS) * (5 + 2)
    assert full[("x", 4, "consent")]["evidence"] == "Consent is obtained at the visit."


def test_the_default_table_keeps_the_rows_that_explain_each_status(built):
    _, _, constants, full, default, status = built
    assert status[("x", 4)] == "ineligible" and status[("x", 3)] == "ineligible" and status[("y", 4)] == "ineligible"
    assert status[("x", 1)] == "eligible" and status[("x", 2)] == "possible" and status[("y", 3)] == "eligible"
    # person 4 (ineligible in both): only the failing rows; person 3 in x: the failing female row only
    assert sorted(k for k in default if k[1] == 4) == [("x", 4, "adult"), ("x", 4, "alive"), ("x", 4, "female"),
                                                      ("y", 4, "adult")]
    assert sorted(k for k in default if k[:2] == ("x", 3)) == [("x", 3, "female")]
    # eligible / possible persons: every criterion but the person-independent ones
    assert sorted(k[2] for k in default if k[:2] == ("x", 2)) == ["adult", "alive", "female"]
    assert not any(k[2] in constants for k in default)
    assert all(default[k] == full[k] for k in default), "kept rows are the full table's rows, unchanged"
    # the contract: default + person-independent rows expanded == the full table filtered by the rule
    def explains(k: tuple) -> bool:
        r = full[k]
        return (status[k[:2]] != "ineligible" or r["outcome"] == "fail"
                or (r["type"] == "inclusion" and r["evidence_date"] is not None))
    expanded = {k for k in full if k[2] in constants and explains(k)}
    assert {k for k in full if explains(k)} == set(default) | expanded
    assert all(full[k]["outcome"] == constants[k[2]]["outcome"] and full[k]["evidence"] == constants[k[2]]["evidence"]
               for k in full if k[2] in constants), "a person-independent criterion's rows are its one result"


def test_a_cohort_of_person_independent_criteria_only_has_no_rows(spark):
    spec = {**SPEC, "cohorts": {**SPEC["cohorts"], "y": {"title": "Y", "criteria": ["opinion"]}}}
    criteria = parse_criteria(yaml.safe_dump(spec), "t1.yaml")
    assert criteria.cohorts["y"].criteria == ["opinion"]
    evaluated = ev.evaluate(spark.createDataFrame(PERSONS, "person_id long, site string, age int, sex string, "
                                                           "deceased boolean, death_date date"), criteria)
    table = results_table(evaluated, criteria, constant_results(spark, evaluated, criteria), full=False)
    assert table.where("cohort = 'y'").count() == 0
    assert table.columns == list(ev.criteria_results(evaluated, criteria).columns)
