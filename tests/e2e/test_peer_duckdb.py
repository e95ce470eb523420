"""Differential tests: the hand-written DuckDB SQL peers (tests/oracle/peer_duckdb.sql for NCT06557265,
peer_nct03987919.sql, peer_nct03036150.sql) and the Spark job agree on every person's status -- and on the failed,
unknown and review criterion sets -- in every cohort of every shipped trial, on the suite's one multi-trial run."""

from __future__ import annotations

from datetime import date

import pytest

from jobs.synthetic.generate import generate
from tests.conftest import CRITERIA
from tests.oracle import peer_duckdb

AS_OF = date(2026, 10, 1)


@pytest.fixture(scope="module")
def sample_and_job(e2e):
    """The suite's shared run (tests/conftest.py::e2e): the peer reads the same CSV extract the job read."""
    return e2e.omop, e2e.nct


@pytest.mark.spark
def test_peer_statuses_equal_the_job_for_every_person_and_cohort(sample_and_job):
    omop, out = sample_and_job
    con, facts = peer_duckdb.run_peer(omop, AS_OF, CRITERIA, threads=2)
    diff = peer_duckdb.compare(con, out, examples=10)
    assert diff["counts"]["rows"] == 2 * 500
    assert diff["equal"], (diff["counts"], diff["by_criterion"], diff["examples"])
    assert facts["unresolved_codes"] == []
    # the sample is not trivial: every status occurs in both cohorts
    for cohort in ("ln", "pmn"):
        for status in ("eligible", "possible", "ineligible"):
            assert facts["status_counts"].get(f"{cohort}/{status}", 0) > 0, (cohort, status)


@pytest.mark.spark
@pytest.mark.parametrize("trial", ["NCT03987919", "NCT03036150"])
def test_each_new_trials_peer_equals_the_job_for_every_person(e2e, trial):
    criteria, sql = peer_duckdb.PEERS[trial]
    con, facts = peer_duckdb.run_peer(e2e.omop, AS_OF, criteria, threads=2, sql=sql)
    diff = peer_duckdb.compare(con, e2e.out / trial, examples=10)
    assert diff["counts"]["rows"] == 500
    assert diff["equal"], (diff["counts"], diff["by_criterion"], diff["examples"])
    assert facts["unresolved_codes"] == []
    (cohort,) = {k.split("/")[0] for k in facts["status_counts"]}
    for status in ("eligible", "possible", "ineligible"):  # not trivial: every status occurs
        assert facts["status_counts"].get(f"{cohort}/{status}", 0) > 0, status


def test_peer_reads_parquet_and_csv_alike(tmp_path):
    """Same extract as CSV and as Parquet part folders -> the same peer statuses (no Spark needed)."""
    csv = generate(tmp_path / "csv", persons=150, seed=5, as_of=AS_OF)
    pq = generate(tmp_path / "pq", persons=150, seed=5, as_of=AS_OF, fmt="parquet")
    rows = []
    for summary in (csv, pq):
        con, _ = peer_duckdb.run_peer(summary.omop_dir, AS_OF, CRITERIA, threads=1)
        rows.append(con.execute("SELECT cohort, person_id, status, failed, unknown, review FROM peer_status "
                                "ORDER BY cohort, person_id").fetchall())
    assert len(rows[0]) == 300
    assert rows[0] == rows[1]

