"""Statuses and ranks as a property (jobs.rules.evaluation.person_status): any outcomes of any persons give
each person exactly one status per cohort, consistent with the failed/unknown lists, and ranks 1..n."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.rules import evaluation as ev
from tests.support.pipeline_helpers import evaluated_schema

OUTCOMES = ("pass", "fail", "unknown", "review")


@pytest.mark.spark
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_statuses_partition_the_population(spark, criteria, data):
    """Any outcomes of any persons: each person gets exactly one status per cohort, consistent with its
    failed/unknown lists, and eligible/possible persons get the ranks 1..n.

    Each person passes all but a few drawn criteria (uniform outcomes over 42 criteria would make nearly
    everyone ineligible, and the ranks would go untested); each example is one Spark query of ~8 persons."""
    ids = sorted({c for spec in criteria.cohorts.values() for c in spec.criteria})
    persons = data.draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=8, unique=True))
    not_passed = st.dictionaries(st.sampled_from(ids), st.sampled_from(OUTCOMES[1:]), max_size=3)
    outcomes = {p: {c: "pass" for c in ids} | data.draw(not_passed) for p in persons}
    rows = [(p, "site", *[(outcomes[p][c], None, None, None, None, None) for c in ids]) for p in persons]
    got = ev.person_status(spark.createDataFrame(rows, evaluated_schema(ids)), criteria).toPandas()
    for cohort, spec in criteria.cohorts.items():
        mine = got[got["cohort"] == cohort]
        assert sorted(mine["person_id"]) == sorted(persons)
        for _, r in mine.iterrows():
            o = outcomes[r["person_id"]]
            assert list(r["failed"]) == [c for c in spec.criteria if o[c] == "fail"]
            assert list(r["unknown"]) == [c for c in spec.criteria if o[c] == "unknown"]
            expected = "ineligible" if len(r["failed"]) else "possible" if len(r["unknown"]) else "eligible"
            assert r["status"] == expected
        ranked = mine[mine["status"] != "ineligible"]
        assert sorted(ranked["rank"].astype(int)) == list(range(1, len(ranked) + 1))
        assert mine.loc[mine["status"] == "ineligible", "rank"].isna().all()
        assert mine.loc[mine["status"] == "ineligible", "reasons"].isna().all()
        for reasons in ranked["reasons"]:  # one reason per criterion of the cohort, in protocol order
            assert [x.split(" ")[0] for x in reasons] == list(spec.criteria)
