"""The end-of-run invariants (jobs.outputs.conservation) on doctored person_status rows and staging folders:
each violation fails loudly, with exit code 3, naming the cohort and what does not add up."""

from __future__ import annotations

import pytest

from jobs.errors import ConservationError
from jobs.outputs.conservation import check_conservation, check_outputs_written
from jobs.outputs.fs import OutputFS
from jobs.outputs.registry import MANIFEST
from tests.support import reliability_helpers as rh

pytestmark = pytest.mark.spark


def _doctored(spark, rows: list[tuple]):
    status = spark.createDataFrame(rows, "cohort string, person_id long, status string, rank int")
    candidates = status.where("rank is not null").select("cohort", "person_id")
    return status, candidates


GOOD = [(c, p, s, r) for c in ("ln", "pmn") for p, s, r in ((1, "eligible", 1), (2, "possible", 2),
                                                             (3, "ineligible", None))]


@pytest.mark.parametrize(("change", "message"), [
    (lambda rows: [r for r in rows if not (r[0] == "ln" and r[1] == 3)],
     "cohort ln: person_status has 2 rows / 2 persons, extract has 3"),
    (lambda rows: [*rows, ("pmn", 3, "ineligible", None)],
     "cohort pmn: person_status has 4 rows / 3 persons, extract has 3"),
    (lambda rows: [(c, p, s, 1 if r else r) for c, p, s, r in rows],
     "cohort ln: ranks are not unique"),
    (lambda rows: [(c, p, "maybe" if p == 3 else s, r) for c, p, s, r in rows],
     "cohort ln: 1 rows with an unknown status"),
], ids=["person-missing", "person-duplicated", "duplicate-rank", "unknown-status"])
def test_conservation_fails_loudly(spark, criteria, change, message):
    status, candidates = _doctored(spark, GOOD)
    assert check_conservation(status, criteria, 3, [], candidates)["persons"] == 3  # the baseline holds
    status, candidates = _doctored(spark, change(list(GOOD)))
    with pytest.raises(ConservationError, match=message.replace("(", r"\(")) as err:
        check_conservation(status, criteria, 3, [], candidates)
    assert err.value.exit_code == 3


def test_conservation_catches_candidates_twice_and_outcomes_not_adding_up(spark, criteria):
    status, candidates = _doctored(spark, GOOD)
    with pytest.raises(ConservationError, match="cohort ln: candidates 3 rows / 2 persons, ranked in person_status 2"):
        check_conservation(status, criteria, 3, [], candidates.unionByName(candidates.limit(1)))
    attrition = [{"cohort": "pmn", "step": 1, "criterion": "sys_alive", "pass": 2, "fail": 0, "unknown": 0,
                  "review": 0}]
    with pytest.raises(ConservationError, match="cohort pmn: outcomes of sys_alive do not add up to 3"):
        check_conservation(status, criteria, 3, attrition, candidates)


def test_an_output_missing_from_the_staging_folder_stops_the_publish(spark, criteria, tmp_path):
    """Every output of the registry but the manifest (written after this check) must be in the staging folder."""
    stage = tmp_path / ".out.staging-1"
    rh.fake_result(stage, "1")
    fs = OutputFS(spark, str(stage))
    folder = fs.qualify(str(stage))
    (stage / MANIFEST).unlink()
    trials = {rh.NCT: list(criteria.cohorts)}
    check_outputs_written(fs, folder, trials)  # complete but for the manifest: fine
    (stage / rh.NCT / "candidates_pmn.csv").unlink()
    with pytest.raises(ConservationError, match=f"outputs not written: {rh.NCT}/candidates_pmn.csv") as err:
        check_outputs_written(fs, folder, trials)
    assert err.value.exit_code == 3
