"""OMOP cohort_definition ids: stable across runs and versions, distinct per cohort and status, a PG integer."""

from __future__ import annotations

import json

from jobs.outputs.cohort_table import definition_id, definitions


def test_ids_are_pinned_so_results_in_a_database_keep_their_meaning():
    # Changing the formula would orphan every cohort row already written by earlier releases.
    assert definition_id("NCT06557265", "ln", "eligible") == 979636394
    assert definition_id("NCT06557265", "pmn", "possible") == 539601307


def test_one_definition_per_cohort_and_status_written(criteria):
    only = definitions(criteria, "abc", include_possible=False)
    both = definitions(criteria, "abc", include_possible=True)
    assert [(d.cohort, d.status) for d in only] == [(c, "eligible") for c in criteria.cohorts]
    assert {(d.cohort, d.status) for d in both} == {(c, s) for c in criteria.cohorts for s in ("eligible", "possible")}
    ids = [d.cohort_definition_id for d in both]
    assert len(set(ids)) == len(ids) and all(0 < i < 2**31 for i in ids)
    syntax = json.loads(both[0].syntax)
    assert syntax["criteria_sha256"] == "abc" and syntax["trial"] == criteria.trial
    assert all(len(d.name) <= 255 for d in both)
