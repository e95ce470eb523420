"""The OMOP cohort table of the shared e2e run (its NCT06557265 folder): exactly the eligible persons (no
--cohort-include-possible), dated as-of, under each cohort's eligible definition id."""

from __future__ import annotations

from datetime import date

import pyarrow.dataset as ds
import pytest

from jobs.outputs.cohort_table import definition_id
from tests.conftest import NCT


@pytest.mark.spark
def test_cohort_rows_are_the_eligible_persons_on_the_as_of_date(e2e, criteria):
    status = ds.dataset(str(e2e.nct / "person_status")).to_table(columns=["cohort", "person_id", "status"]).to_pylist()
    cohort = ds.dataset(str(e2e.nct / "cohort")).to_table().to_pylist()
    expected = {(definition_id(criteria.trial, r["cohort"], "eligible"), r["person_id"]) for r in status
                if r["status"] == "eligible"}
    assert expected  # the generator plants eligible patients
    assert sorted((r["cohort_definition_id"], r["subject_id"]) for r in cohort) == sorted(expected)
    assert {(r["cohort_start_date"], r["cohort_end_date"]) for r in cohort} == {(date(2026, 10, 1),) * 2}
    defs = ds.dataset(str(e2e.nct / "cohort_definition")).to_table().to_pylist()
    assert sorted(d["cohort_definition_name"] for d in defs) == sorted(f"{criteria.trial} {c} eligible"
                                                                      for c in criteria.cohorts)
    assert e2e.result.manifest["trials"][NCT]["cohort_table"]["definitions"][0]["status"] == "eligible"
