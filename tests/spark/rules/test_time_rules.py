"""Issue 16 timed rules on hand-built OMOP rows, one run: drug covered days (overlapping, adjacent, gapped,
open-ended exposures; refill gaps; continuous use), windows that end before as-of, first occurrence, `after`
another event, labs in a past window, data recency (the rule kind and the per-trial default)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from jobs.rules.loader import load_criteria
from tests.support.omop_builder import Extract
from tests.support.pipeline_helpers import outcomes

AS_OF = date(2026, 10, 1)  # window of 90 days: 2026-07-04 .. 2026-10-01
RULES = Path(__file__).resolve().parents[2] / "data" / "time_rules.yaml"
ACEI, T2DM, SLE, BIOPSY, HB, G_DL = 1308216, 201826, 257628, 4217034, 3000963, 8713
HF, INPATIENT, ER_INPATIENT = 316139, 9201, 262
NYHA, PACK_YEARS, NYHA_II, NYHA_III, NYHA_IV = 3_000_000_001, 3_000_000_002, 45_000_002, 45_000_003, 45_000_004


def _extract() -> Extract:
    e = Extract()
    # 1: three concurrent 30-day prescriptions (9/1..9/30): 30 covered days, not 90; ends the day before as-of
    e.person(1)
    for _ in range(3):
        e.drug(1, ACEI, "2026-09-01", days_supply=30)
    e.condition(1, T2DM, "2026-07-03")  # 90 days before as-of: inside [90, 365], first ever
    e.condition(1, SLE, "2020-01-01").procedure(1, BIOPSY, "2026-05-01")
    e.lab(1, HB, "2026-09-15", 8.0, G_DL).lab(1, HB, "2026-08-01", 10.0, G_DL)  # 16 d: outside; 61 d: latest inside
    e.visit(1, "2026-09-01", vid=101)  # outpatient, 30 days before as-of: not "in the last 30 days"
    e.condition(1, HF, "2026-09-01", visit=101)  # during an outpatient visit: not a hospitalisation
    e.observation(1, NYHA, "2026-03-01", value_concept=NYHA_III)
    e.observation(1, PACK_YEARS, "2010-01-01", 20).observation(1, PACK_YEARS, "2020-01-01", 5)  # latest counts
    # 2: adjacent exposures cover the whole window; an end date after as-of is clipped
    e.person(2)
    e.drug(2, ACEI, "2026-07-03", days_supply=30).drug(2, ACEI, "2026-08-02", days_supply=30)
    e.drug(2, ACEI, "2026-09-01", end="2026-10-15")
    e.condition(2, T2DM, "2025-10-01").condition(2, T2DM, "2026-09-01")  # 365 d: inside; first before the year
    e.condition(2, SLE, "2026-06-01").procedure(2, BIOPSY, "2026-05-01")  # biopsy before the first SLE
    e.lab(2, HB, "2026-09-01", 8.5, G_DL)  # 30 days before: inside [30, 120]
    e.observation(2, NYHA, "2026-09-01", value_concept=NYHA_II).observation(2, NYHA, "2025-09-01",
                                                                             value_concept=NYHA_IV)  # 395 d: outside
    e.observation(2, PACK_YEARS, "2026-01-01", 12)
    e.visit(2, "2026-08-10", INPATIENT, "2026-08-20", vid=201).visit(2, "2026-08-12", INPATIENT, "2026-08-14", vid=202)
    e.condition(2, HF, "2026-08-13")  # no visit id: inside both inpatient stays by date, counted once
    # 3: gapped: 7/10..7/29, 8/3..9/1, 9/5..10/1 = 77 days; gaps of 4 and 3 days
    e.person(3)
    e.drug(3, ACEI, "2026-06-01", end="2026-06-30")  # before the window
    e.drug(3, ACEI, "2026-07-10", days_supply=20).drug(3, ACEI, "2026-08-03", days_supply=30)
    e.drug(3, ACEI, "2026-09-05", days_supply=27)
    e.condition(3, T2DM, "2026-07-04")  # 89 days before: outside [90, 365]
    e.condition(3, SLE, "2026-05-01").procedure(3, BIOPSY, "2026-05-01")  # same day counts as after
    e.lab(3, HB, "2026-06-02", 8.0, G_DL)  # 121 days before: outside
    e.visit(3, "2026-08-10", INPATIENT, "2026-08-20", vid=301).condition(3, HF, "2026-08-21")  # the day after
    e.observation(3, NYHA, "2026-09-01", value_concept=0).observation(3, PACK_YEARS, "2026-09-01")  # no values
    # 4: open-ended: days_supply only (9/10..9/19), then neither end nor supply (9/20 only): 11 days
    e.person(4)
    e.drug(4, ACEI, "2026-09-10", days_supply=10).drug(4, ACEI, "2026-09-20")
    e.condition(4, T2DM, "2025-09-30")  # 366 days before
    e.procedure(4, BIOPSY, "2026-05-01")  # no SLE at all
    e.visit(4, "2026-09-05", ER_INPATIENT, "2026-09-05", vid=401).condition(4, HF, "2026-09-06", visit=401)  # by id
    e.observation(4, NYHA, "2026-08-01", value_concept=NYHA_IV)  # class IV: a member of nyha_iv by its code
    e.concept(NYHA_IV, "LOINC", "LA28407-7", "Class IV")
    # 5: observed, no records: closed-world fails
    e.person(5)
    # 6: no observation period, no visit, no records: closed-world "no record" is unknown
    e.person(6, observed=None)
    # 7: no observation period but a visit 29 days ago: recent by visit
    e.person(7, observed=None).visit(7, "2026-09-02")
    # 8: no recent data, yet a record: a true result stays true
    e.person(8, observed=None).condition(8, T2DM, "2026-04-04")  # 180 days before as-of
    return e


@pytest.fixture(scope="module")
def results(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("time_rules")
    folder = _extract().write(tmp / "omop")
    return outcomes(spark, folder, load_criteria(RULES).model, AS_OF, tmp / "work")


EXPECTED = {
    1: dict(cov30="pass", cov80_gap5="fail", cov80="fail", cont28="fail", cont28_gap7="pass", dx_between="pass",
            dx_180="fail", new_dx="pass", biopsy_after="pass", hb_between="pass", recent="fail", observed="pass",
            nyha34="fail", smoker="pass", hf_hosp="pass", hf_twice="pass", nyha4_by_code="pass", hb_prior_low="fail"),
    2: dict(cov30="pass", cov80_gap5="pass", cov80="pass", cont28="pass", cont28_gap7="pass", dx_between="pass",
            dx_180="pass", new_dx="fail", biopsy_after="fail", hb_between="fail", nyha34="pass", smoker="fail",
            hf_hosp="fail", hf_twice="pass", nyha4_by_code="pass", hb_prior_low="pass"),
    3: dict(cov30="pass", cov80_gap5="pass", cov80="fail", cont28="fail", cont28_gap7="pass", dx_between="fail",
            dx_180="fail", new_dx="pass", biopsy_after="pass", hb_between="unknown", nyha34="unknown",
            smoker="unknown", hf_hosp="pass", nyha4_by_code="unknown", hb_prior_low="fail"),
    4: dict(cov30="fail", cont28="fail", dx_between="fail", dx_180="pass", new_dx="fail", biopsy_after="fail",
            hf_hosp="fail", nyha34="fail", nyha4_by_code="fail"),
    5: dict(cov30="fail", cont28="fail", dx_between="fail", dx_180="fail", new_dx="fail", biopsy_after="fail",
            hb_between="unknown", observed="pass", nyha34="unknown", smoker="unknown", hf_hosp="pass",
            nyha4_by_code="unknown", hb_prior_low="fail"),
    6: dict(cov30="unknown", cont28_gap7="unknown", dx_between="unknown", new_dx="unknown", biopsy_after="unknown",
            recent="fail", observed="fail", hb_prior_low="unknown"),
    7: dict(cov30="fail", dx_between="fail", recent="pass", observed="fail"),
    8: dict(cov30="unknown", dx_between="pass", dx_180="pass", new_dx="pass", observed="fail"),
}


@pytest.mark.spark
@pytest.mark.parametrize("person", sorted(EXPECTED))
def test_outcomes(results, person):
    got = {c: results[(person, c)][0] for c in EXPECTED[person]}
    assert got == EXPECTED[person]


@pytest.mark.spark
def test_covered_days_are_the_union_of_intervals(results):
    days = {p: results[(p, "cov30")][2] for p in (1, 2, 3, 4, 5)}
    assert days == {1: 30.0, 2: 90.0, 3: 77.0, 4: 11.0, 5: 0.0}
    assert results[(3, "cov80_gap5")][2] == 84.0  # both gaps bridged: 7/10..10/1
    assert results[(1, "cov30")][1] == "ACEi covered 30 of the last 90 days"
    assert results[(3, "cov80_gap5")][1] == "ACEi covered 84 of the last 90 days (refill gaps up to 5 days count)"
    assert results[(5, "cov30")][1] == "no ACEi in the last 90 days"


@pytest.mark.spark
def test_continuous_run_reaches_as_of(results):
    runs = {p: results[(p, "cont28")][2] for p in (1, 2, 3, 4)}
    assert runs == {1: 0.0, 2: 90.0, 3: 27.0, 4: 0.0}  # 1 ended the day before as-of; 3's last run is 27 days
    assert results[(1, "cont28_gap7")][2] == 31.0  # a refill due within 7 days: 9/1..10/1
    assert results[(3, "cont28")][1] == "ACEi continuous for 27 days up to as-of"


@pytest.mark.spark
def test_timed_evidence_says_why(results):
    assert results[(2, "new_dx")][1] == "first T2DM on 2025-10-01, before the window"
    assert results[(1, "biopsy_after")][1] == "kidney biopsy on 2026-05-01 (first SLE on 2020-01-01)"
    assert results[(4, "biopsy_after")][1].startswith("none on or after the first record: kidney biopsy on 2026-05-01")
    assert results[(3, "hb_between")][1] == "no Hb result 30-120 days before as-of"
    assert results[(2, "hb_between")][1] == "Hb 8.5 g/dL on 2026-09-01"
    assert results[(6, "dx_between")][1] == ("no T2DM 90-365 days before as-of; unknown: no observation period "
                                             "covering as-of and no visit in the last 365 days")
    assert results[(7, "recent")][1] == "last visit 29 days before as-of"


@pytest.mark.spark
def test_observation_values_use_the_latest_recorded_value(results):
    assert results[(1, "smoker")][1:] == ("pack-years 5 on 2020-01-01", 5.0)
    assert results[(1, "nyha34")][1] == f"NYHA class value concept {NYHA_III} on 2026-03-01"
    assert results[(3, "nyha34")][1] == "no NYHA class value in the last 365 days"
    assert results[(3, "smoker")][1] == "no pack-years value ever"
    # a value concept set by code (LOINC answer LA28407-7), resolved in the extract's concept table
    assert results[(4, "nyha4_by_code")][1] == f"NYHA class value concept {NYHA_IV} on 2026-08-01 (NYHA class IV)"
    assert results[(1, "nyha4_by_code")][1] == f"NYHA class value concept {NYHA_III} on 2026-03-01 (not NYHA class IV)"


@pytest.mark.spark
def test_a_missing_result_read_as_not_met(results):
    """no_result: not_met (documented evidence of a past finding): no result is a fail, a result decides as
    usual, and without recent data the absence is unknown (the recent_data default of this file)."""
    assert results[(3, "hb_prior_low")][1] == "no Hb result 30-120 days before as-of (read as not met)"
    assert results[(1, "hb_prior_low")][1] == "Hb 10 g/dL on 2026-08-01"
    assert results[(6, "hb_prior_low")][1].endswith(
        "(read as not met); unknown: no observation period covering as-of and no visit in the last 365 days")


@pytest.mark.spark
def test_visit_evidence(results):
    assert results[(1, "hf_hosp")][1] == "no heart failure in the last 60 days during a visit (262, 9201)"
    assert results[(2, "hf_twice")][2] == 1.0  # two overlapping stays, one record
    assert results[(4, "hf_hosp")][1] == "heart failure on 2026-09-06"
