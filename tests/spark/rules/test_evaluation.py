"""Status and ranking rules on hand-built rows (jobs.rules.evaluation); the whole path is in
tests/e2e/test_pipeline.py, the status partition as a property in test_statuses.py."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from jobs.rules.evaluation import _rank_order, person_status, ranks, status_of
from schemas.criteria import ReviewRule
from tests.support.pipeline_helpers import evaluated_schema

pytestmark = pytest.mark.spark


def test_status_any_fail_is_ineligible_else_any_unknown_is_possible(spark):
    rows = [(1, 0, 0), (2, 0, 3), (3, 1, 0), (4, 2, 5)]
    df = spark.createDataFrame(rows, "id int, n_failed int, n_unknown int")
    got = dict(df.select("id", status_of(F.col("n_failed"), F.col("n_unknown")).alias("s")).collect())
    assert got == {1: "eligible", 2: "possible", 3: "ineligible", 4: "ineligible"}


def test_rank_order_is_total_eligible_first_then_fewer_unknowns_then_recent_evidence_then_id(spark):
    rows = [  # person_id, status, n_unknown, evidence_date
        (10, "possible", 1, date(2026, 9, 30)),
        (11, "eligible", 0, date(2026, 1, 1)),
        (12, "eligible", 0, date(2026, 9, 1)),
        (13, "possible", 2, date(2026, 9, 30)),
        (14, "possible", 1, None),
        (9, "possible", 1, date(2026, 9, 30)),  # ties with 10: the lower person_id first
    ]
    df = spark.createDataFrame(rows, "person_id long, status string, n_unknown int, evidence_date date")
    ranked = df.withColumn("rank", F.row_number().over(Window.orderBy(*_rank_order())))
    order = [r["person_id"] for r in ranked.orderBy("rank").collect()]
    assert order == [12, 11, 9, 10, 14, 13]


def test_ranks_are_per_cohort_and_follow_the_rank_order(spark, criteria):
    """One narrow pass ranks every cohort: a person's rank in a cohort depends on that cohort's criteria only."""
    ids = sorted({c for spec in criteria.cohorts.values() for c in spec.criteria})
    ln_only = next(c for c in criteria.cohorts["ln"].criteria if c not in criteria.cohorts["pmn"].criteria)
    pmn_only = next(c for c in criteria.cohorts["pmn"].criteria if c not in criteria.cohorts["ln"].criteria)
    inclusion = next(c for c in criteria.cohorts["ln"].criteria if criteria.criterion(c).type == "inclusion"
                     and c in criteria.cohorts["pmn"].criteria)

    def person(pid: int, overrides: dict[str, str], day: date | None = None):
        row = {c: ("pass", None, None, day if c == inclusion else None, None, f"e-{c}") for c in ids}
        for c, o in overrides.items():
            row[c] = (o, None, None, row[c][3], None, f"e-{c}")
        return (pid, "site", *[row[c] for c in ids])

    rows = [
        person(1, {ln_only: "fail"}, date(2026, 9, 1)),  # ln ineligible, pmn eligible
        person(2, {pmn_only: "unknown"}, date(2026, 9, 1)),  # ln eligible, pmn possible
        person(3, {}, date(2026, 1, 1)),  # eligible in both, older evidence
        person(4, {ln_only: "unknown", pmn_only: "fail"}, date(2026, 9, 30)),  # ln possible, pmn ineligible
    ]
    evaluated = spark.createDataFrame(rows, evaluated_schema(ids))
    got = {(r["_r_cohort"], r["_r_person_id"]): r["rank"] for r in ranks(evaluated, criteria).collect()}
    assert got == {("ln", 2): 1, ("ln", 3): 2, ("ln", 4): 3, ("pmn", 1): 1, ("pmn", 3): 2, ("pmn", 2): 3}
    status = {(r["cohort"], r["person_id"]): (r["status"], r["rank"], r["reasons"] is not None)
              for r in person_status(evaluated, criteria).collect()}
    assert status[("ln", 1)] == ("ineligible", None, False)
    assert status[("pmn", 4)] == ("ineligible", None, False)
    assert status[("ln", 4)] == ("possible", 3, True)
    assert status[("pmn", 2)] == ("possible", 3, True)
    assert len(status) == 8


def test_summary_keeps_the_person_specific_reasons_only(spark, criteria):
    """Inclusion evidence, unknowns and person-specific reviews (review_if: [fail]) stay; exclusions that pass,
    and review items the same for everyone (kind: review, exclusions with review_if: [pass]) go."""
    ids = sorted({c for spec in criteria.cohorts.values() for c in spec.criteria})
    outcomes = {"ln_inc_3": "pass", "gen_exc_1": "unknown", "gen_exc_8_4": "review", "gen_exc_2": "review",
                "gen_exc_7": "pass"}
    row = {c: (outcomes.get(c, "review" if criteria.criterion(c).review_if == ["pass"] else "pass"), None, None,
               None, None, f"e-{c}") for c in ids}
    evaluated = spark.createDataFrame([(1, "site", *[row[c] for c in ids])], evaluated_schema(ids))
    got = {r["cohort"]: r["summary"] for r in person_status(evaluated, criteria).collect()}
    ln = criteria.cohorts["ln"].criteria
    assert "ln_inc_3 pass: e-ln_inc_3" in got["ln"] and "gen_exc_1 unknown: e-gen_exc_1" in got["ln"]
    assert "gen_exc_8_4 review: e-gen_exc_8_4" in got["ln"]  # review_if [fail]: evidence was found
    assert not any(s.startswith(("gen_exc_2 ", "gen_exc_7 ")) for s in got["ln"])
    inclusions = [c for c in ln if criteria.criterion(c).type == "inclusion"
                  and not isinstance(criteria.criterion(c).rule, ReviewRule)]
    assert [s.split(" ")[0] for s in got["ln"]] == [c for c in ln if c in inclusions
                                                     or c in ("gen_exc_1", "gen_exc_8_4")]
