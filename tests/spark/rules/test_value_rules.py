"""Alternatives, several results of one lab and mixed items on hand-built OMOP rows: pass, fail, unknown and
the edges (ties, window edges, exact thresholds). One extract, one run, many assertions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from jobs.rules.loader import load_criteria
from tests.support.omop_builder import Extract
from tests.support.pipeline_helpers import outcomes

AS_OF = date(2026, 10, 1)
RULES = Path(__file__).resolve().parents[2] / "data" / "value_rules.yaml"
T2DM, UPCR, P24, EGFR = 201826, 3001582, 3020876, 1619025
G_G, G_24H, EGFR_UNIT = 9510, 8807, 720870
METFORMIN, SITAGLIPTIN, MG, G = 1503297, 1580747, 8576, 8504
TAB_500, TAB_1G, NO_STRENGTH, COMBO = 2_000_000_101, 2_000_000_102, 2_000_000_103, 2_000_000_104


def _extract() -> Extract:
    e = Extract()
    # alternatives
    e.person(1).condition(1, T2DM, "2020-01-01").lab(1, UPCR, "2026-09-15", 0.9, G_G)  # UPCR low, no 24 h
    e.person(2).lab(2, UPCR, "2026-09-15", 2.0, G_G)  # UPCR high, no 24 h
    e.person(3).lab(3, P24, "2026-09-10", 2.5, G_24H)  # 24 h only, passes
    e.person(4)  # neither
    e.person(5).lab(5, UPCR, "2026-08-01", 2.0, G_G).lab(5, P24, "2026-09-20", 1.0, G_24H)  # newer 24 h fails
    e.person(6).lab(6, UPCR, "2026-09-20", 0.8, G_G).lab(6, P24, "2026-09-20", 3.0, G_24H)  # same day: UPCR
    e.person(7).lab(7, UPCR, "2026-09-01", 0.8, G_G).lab(7, P24, "2026-09-25", 3.0, G_24H)  # newer 24 h passes
    e.person(8).lab(8, P24, "2026-09-10", 8.0, G_24H)  # 24 h above the between bound
    # several results (window of 365 days: first day 2025-10-02)
    e.person(9).lab(9, UPCR, "2026-03-01", 2.0, G_G).lab(9, UPCR, "2026-07-01", 1.8, G_G)
    e.lab(9, UPCR, "2026-09-01", 0.5, G_G).lab(9, EGFR, "2026-03-01", 60, EGFR_UNIT)
    e.lab(9, EGFR, "2026-07-01", 70, EGFR_UNIT)
    e.person(10).lab(10, UPCR, "2026-08-01", 2.0, G_G).lab(10, UPCR, "2026-09-15", 2.2, G_G)
    e.lab(10, EGFR, "2026-03-01", 50, EGFR_UNIT).lab(10, EGFR, "2026-07-01", 80, EGFR_UNIT)
    e.person(11).lab(11, UPCR, "2026-01-01", 2.0, G_G).lab(11, UPCR, "2026-09-01", 0.7, G_G)
    e.lab(11, EGFR, "2026-09-01", 60, EGFR_UNIT).lab(11, EGFR, "2026-09-20", 62, EGFR_UNIT)
    e.person(12).lab(12, UPCR, "2025-10-01", 2.0, G_G).lab(12, UPCR, "2026-09-01", 2.0, G_G)  # first is outside
    e.person(13).lab(13, UPCR, "2025-10-02", 2.0, G_G).lab(13, UPCR, "2026-01-01", 2.0, G_G)  # first day inside
    e.lab(13, EGFR, "2026-01-01", 80, EGFR_UNIT).lab(13, EGFR, "2026-03-02", 64, EGFR_UNIT)  # 20 % over 60 days
    e.person(14).lab(14, UPCR, "2026-06-01", 1.5, G_G).lab(14, UPCR, "2026-08-30", 1.5, G_G)  # 90 days, = bar
    # daily doses: products reach metformin through concept_ancestor; strengths per (product, ingredient)
    for product in (TAB_500, TAB_1G, NO_STRENGTH, COMBO):
        e.ancestor(METFORMIN, product)
    e.drug_strength(TAB_500, METFORMIN, 500, MG).drug_strength(TAB_1G, METFORMIN, 1, G)
    e.drug_strength(COMBO, SITAGLIPTIN, 50, MG).drug_strength(COMBO, METFORMIN, 1000, MG)
    e.drug_strength(TAB_500, METFORMIN, 850, MG, invalid_reason="D")  # an invalid row is never read
    e.person(20).drug(20, TAB_500, "2026-08-01", days_supply=90, quantity=360)  # 2000 mg/day
    e.person(21).drug(21, TAB_500, "2026-08-01", days_supply=90, quantity=180)  # 1000 mg/day
    e.person(22)  # no metformin: closed-world false
    e.person(23).drug(23, TAB_500, "2026-08-01", days_supply=90)  # no quantity
    e.person(24).drug(24, NO_STRENGTH, "2026-08-01", days_supply=30, quantity=30)  # no strength row
    e.person(25).drug(25, TAB_1G, "2026-06-01", days_supply=30, quantity=60)  # 2 g/day, older
    e.drug(25, TAB_500, "2026-09-01", days_supply=90, quantity=90)  # 500 mg/day, latest: decides
    e.person(26).drug(26, COMBO, "2026-09-01", days_supply=30, quantity=60)  # metformin 1000 mg x 2 a day
    e.person(27).drug(27, TAB_500, "2026-01-01", days_supply=30, quantity=120)  # ended before the window
    e.person(28).drug(28, TAB_500, "2026-09-01", days_supply=30, quantity=90)  # exactly 1500 mg/day
    e.person(29).drug(29, TAB_500, "2026-09-01", end="2026-09-30", quantity=90)  # no days_supply
    return e


@pytest.fixture(scope="module")
def results(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("values")
    folder = _extract().write(tmp / "omop")
    return outcomes(spark, folder, load_criteria(RULES).model, AS_OF, tmp / "work")


EXPECTED = {
    1: dict(alt_latest="fail", alt_first="fail", alt_exc="pass", cnt2="unknown", apart90="unknown",
            mixed_inc="review", mixed_exc="fail", mixed_lab="fail"),
    2: dict(alt_latest="pass", alt_first="pass", alt_exc="fail", cnt2="unknown", mixed_inc="fail",
            mixed_exc="review", mixed_lab="review"),
    3: dict(alt_latest="pass", alt_first="pass", alt_exc="fail"),
    4: dict(alt_latest="unknown", alt_first="unknown", alt_exc="unknown", cnt2="unknown", apart90="unknown",
            stable="unknown", mixed_inc="fail", mixed_exc="review", mixed_lab="unknown"),
    5: dict(alt_latest="fail", alt_first="pass", alt_exc="pass"),
    6: dict(alt_latest="fail", alt_first="fail", alt_exc="pass"),
    7: dict(alt_latest="pass", alt_first="fail", alt_exc="fail"),
    8: dict(alt_latest="fail", alt_first="fail", alt_exc="fail"),
    9: dict(cnt2="pass", apart90="pass", stable="pass"),
    10: dict(cnt2="pass", apart90="unknown", stable="fail"),
    11: dict(cnt2="fail", apart90="fail", stable="unknown"),
    12: dict(cnt2="unknown", apart90="unknown"),
    13: dict(cnt2="pass", apart90="pass", stable="pass"),
    14: dict(cnt2="pass", apart90="pass"),
    20: dict(dose_gt="pass", dose_g="pass"),
    21: dict(dose_gt="fail", dose_g="fail"),
    22: dict(dose_gt="fail", dose_g="fail"),
    23: dict(dose_gt="unknown", dose_g="unknown"),
    24: dict(dose_gt="unknown", dose_g="unknown"),
    25: dict(dose_gt="fail", dose_g="fail"),
    26: dict(dose_gt="pass", dose_g="pass"),
    27: dict(dose_gt="fail", dose_g="fail"),
    28: dict(dose_gt="fail", dose_g="fail"),
    29: dict(dose_gt="unknown", dose_g="unknown"),
}


@pytest.mark.spark
@pytest.mark.parametrize("person", sorted(EXPECTED))
def test_outcomes(results, person):
    got = {c: results[(person, c)][0] for c in EXPECTED[person]}
    assert got == EXPECTED[person]


@pytest.mark.spark
def test_the_deciding_alternative_explains_the_outcome(results):
    assert results[(1, "alt_latest")][1:] == ("UPCR 0.9 g/g on 2026-09-15", 0.9)
    assert results[(3, "alt_latest")][1:] == ("24h protein 2.5 g/24h on 2026-09-10", 2.5)
    assert results[(5, "alt_latest")][1] == ("24h protein 1 g/24h on 2026-09-20 "
                                              "(most recent of 2 alternatives with a result)")
    assert results[(5, "alt_first")][1] == "UPCR 2 g/g on 2026-08-01 (first listed of 2 alternatives with a result)"
    assert results[(6, "alt_latest")][2] == 0.8  # same day: the first listed
    assert results[(4, "alt_latest")][1] == ("no UPCR result in the last 90 days; "
                                              "no 24h protein result in the last 90 days")


@pytest.mark.spark
def test_series_evidence_counts_dates_and_spread(results):
    text, value = results[(9, "cnt2")][1:]
    assert value == 2.0
    assert text == "3 UPCR results in the last 365 days from 2026-03-01 to 2026-09-01, 2 >= 1.5 g/g (2 needed)"
    assert results[(9, "apart90")][2] == 122.0
    assert "on 2026-03-01 and 2026-07-01 (122 days apart, 90 needed)" in results[(9, "apart90")][1]
    assert results[(11, "apart90")][1].endswith("on 2026-01-01 and 2026-01-01 (0 days apart, 90 needed)")
    assert results[(10, "stable")][2] == pytest.approx(37.5)
    assert results[(13, "stable")][2] == pytest.approx(20.0)
    assert "64-80 mL/min/1.73m2, spread 20% of the highest (at most 20%)" in results[(13, "stable")][1]
    assert results[(4, "stable")][1] == "no eGFR result in the last 365 days"


@pytest.mark.spark
def test_mixed_items_carry_the_review_note_only_when_they_go_to_review(results):
    assert results[(1, "mixed_inc")][1] == "T2DM on 2020-01-01; a person checks: investigator judges suitable"
    assert results[(2, "mixed_exc")][1] == "no T2DM ever; a person checks: whether T2DM is expected"
    assert results[(1, "mixed_exc")][1] == "T2DM on 2020-01-01"  # fails: nothing left to check
    assert results[(4, "mixed_lab")][1] == "no UPCR result in the last 90 days"


@pytest.mark.spark
def test_daily_dose_evidence_shows_the_arithmetic_or_why_it_is_unknown(results):
    assert results[(20, "dose_gt")][1:] == ("metformin 2000 mg/24h on 2026-08-01 (500 mg x 360 / 90 days)", 2000.0)
    assert results[(20, "dose_g")][2] == pytest.approx(2.0)  # mg -> g/24h
    assert results[(26, "dose_gt")][2] == 2000.0  # the metformin strength of the combination, not sitagliptin's
    assert results[(25, "dose_gt")][2] == 500.0
    assert results[(22, "dose_gt")][1] == "no metformin in the last 90 days"
    assert results[(23, "dose_gt")][1] == "metformin on 2026-08-01: daily dose unknown (no quantity)"
    assert results[(24, "dose_gt")][1].endswith("(no drug_strength amount for this drug)")
    assert results[(29, "dose_gt")][1].endswith("(no days_supply)")
