"""Every rule kind on hand-built OMOP rows: pass, fail and unknown, window edges, units, Kleene logic."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from jobs.rules.compiler import build  # importing the compiler registers every kind
from jobs.rules.loader import load_criteria
from schemas.criteria import RULE_KINDS
from tests.support.omop_builder import Extract
from tests.support.pipeline_helpers import outcomes

AS_OF = date(2026, 10, 1)
RULES = Path(__file__).resolve().parents[2] / "data" / "rule_kinds.yaml"
ANA, DSDNA = 2_000_000_001, 2_000_000_002


def test_every_rule_kind_has_a_builder():
    registered = set(build.registry)
    missing = [k.__name__ for k in RULE_KINDS if k not in registered]
    assert missing == []


def _extract() -> Extract:
    e = Extract()
    e.concept(ANA, "LOINC", "5048-4").concept(DSDNA, "LOINC", "5130-0")
    # person 1: passes nearly everything; ALT is 3.25x its own range_high
    e.person(1, "female", "1980-01-15")
    e.condition(1, 201826, "2026-09-10").condition(1, 201826, "2026-09-25")
    e.condition(1, 257628, "2020-01-01").procedure(1, 4217034, "2026-05-01").observation(1, 4019967, "2026-01-01")
    e.drug(1, 19080128, "2026-08-01", days_supply=60)  # lisinopril product -> ingredient via shipped ancestor
    e.drug(1, 19003999, "2025-01-01", end="2025-03-01").drug(1, 35606514, "2025-06-01")  # MMF + cyclophosphamide
    e.lab(1, 3001582, "2026-05-01", 0.5, 9510)  # stale low UPCR: ignored
    e.lab(1, 3001582, "2026-09-15", 250, 44777612)  # 250 mg/mmol = 2.21 g/g
    e.lab(1, 3020876, "2026-09-15", 2500, 8909)  # 2500 mg/24h
    e.lab(1, 3000963, "2026-09-20", 120, 8636)  # 120 g/L = 12 g/dL
    e.lab(1, 3006923, "2026-09-20", 130, 0, "U/L", range_high=40)
    e.lab(1, 3016723, "2026-09-20", 1.0, 8840)  # creatinine only: eGFR derived
    e.lab(1, ANA, "2019-01-01", 160, None).lab(1, ANA, "2021-01-01", 40, None)  # max counts
    e.lab(1, DSDNA, "2019-01-01", value_concept=9191)
    # person 2: fails nearly everything
    e.person(2, "male", "1950-06-01")
    e.condition(2, 201826, "2026-09-10").condition(2, 201826, "2026-08-01")  # only 1 in 30 days
    e.condition(2, 4063581, "2020-01-01")  # drug-induced SLE: excluded from the set
    e.procedure(2, 4217034, "2026-03-01")  # 214 days before
    e.drug(2, 1308216, "2026-09-15", days_supply=5)
    e.drug(2, 19003999, "2025-01-01").drug(2, 19012565, "2025-06-01")  # one label
    e.lab(2, 3001582, "2026-09-15", 800, 8723)  # 800 mg/g = 0.8 g/g
    e.lab(2, 3020876, "2026-09-15", 8, 8807)
    e.lab(2, 3000963, "2026-09-20", 8.5, 8713)
    e.lab(2, 3006923, "2026-09-20", 80, 0, "U/L")  # no range_high: default ULN 40 -> 2x
    e.lab(2, 1619025, "2026-09-01", 30, 720870).lab(2, 3016723, "2026-09-20", 0.7, 8840)  # measured eGFR wins
    e.lab(2, ANA, "2019-01-01", 40, 0, "{titer}").lab(2, DSDNA, "2019-01-01", value_concept=9189)
    # person 3: unknown sex, deceased, unconvertible UPCR unit, creatinine but no sex -> no derived eGFR
    e.person(3, None, "1990-01-01").death(3, "2026-01-01")
    e.lab(3, 3001582, "2026-09-15", 3, 0, "mmol/L").lab(3, 3016723, "2026-09-20", 1.2, 8840)
    # person 4: 16 years old, only a stale UPCR, low Hb
    e.person(4, "female", "2010-01-01").lab(4, 3001582, "2026-05-01", 2.0, 9510).lab(4, 3000963, "2026-09-01", 8, 8713)
    # age edges: 18 today, 66 today, 65 until tomorrow
    e.person(6, "female", "2008-10-01").person(7, "female", "1960-10-01").person(8, "female", "1960-10-02")
    return e


@pytest.fixture(scope="module")
def results(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rules")
    folder = _extract().write(tmp / "omop")
    return outcomes(spark, folder, load_criteria(RULES).model, AS_OF, tmp / "work")


EXPECTED = {
    1: dict(age="pass", sex="pass", alive="pass", cond2="pass", sle_ever="pass", biopsy="pass", dial_obs="pass",
            acei_days="pass", two_classes="pass", upcr="pass", prot24="pass", hb_low="pass", alt_uln="fail",
            egfr="pass", ana="pass", dsdna="pass", any="pass", all="pass", neg="fail", rev="review",
            revpass="review"),
    2: dict(age="fail", sex="fail", alive="pass", cond2="fail", sle_ever="fail", biopsy="fail", dial_obs="fail",
            acei_days="fail", two_classes="fail", upcr="fail", prot24="fail", hb_low="fail", alt_uln="pass",
            egfr="fail", ana="fail", dsdna="fail", any="pass", all="fail", neg="pass", rev="review",
            revpass="fail"),
    3: dict(age="pass", sex="unknown", alive="fail", cond2="fail", sle_ever="fail", upcr="unknown",
            prot24="unknown", hb_low="unknown", alt_uln="unknown", egfr="unknown", ana="unknown", dsdna="unknown",
            any="unknown", all="fail", neg="pass", rev="review", revpass="fail"),
    4: dict(age="fail", sex="pass", upcr="unknown", hb_low="fail", any="pass", all="fail"),
    6: dict(age="pass"), 7: dict(age="fail"), 8: dict(age="pass"),
}


@pytest.mark.spark
@pytest.mark.parametrize("person", sorted(EXPECTED))
def test_outcomes(results, person):
    got = {c: results[(person, c)][0] for c in EXPECTED[person]}
    assert got == EXPECTED[person]


@pytest.mark.spark
def test_units_are_converted_in_evidence(results):
    assert results[(1, "upcr")][2] == pytest.approx(250 / 113.12, rel=1e-6)
    assert results[(1, "upcr")][1] == "UPCR 2.21 g/g on 2026-09-15"
    assert results[(2, "upcr")][2] == pytest.approx(0.8)
    assert results[(1, "hb_low")][2] == pytest.approx(12.0)
    assert results[(1, "prot24")][2] == pytest.approx(2.5)
    assert results[(1, "alt_uln")][2] == pytest.approx(3.25)
    assert results[(2, "alt_uln")][2] == pytest.approx(2.0)


@pytest.mark.spark
def test_unconvertible_unit_is_not_evidence_and_is_counted(results):
    outcome, evidence, value = results[(3, "upcr")]
    assert outcome == "unknown" and value is None
    assert "1 with a unit that cannot be converted" in evidence


@pytest.mark.spark
def test_egfr_is_derived_from_creatinine_with_ckd_epi_2021(results):
    # female, 46 at the creatinine date, Scr 1.0 mg/dL
    expected = 142 * min(1.0 / 0.7, 1) ** -0.241 * max(1.0 / 0.7, 1) ** -1.200 * 0.9938 ** 46 * 1.012
    outcome, evidence, value = results[(1, "egfr")]
    assert outcome == "pass"
    assert value == pytest.approx(expected, rel=1e-9)
    assert "CKD-EPI 2021 from creatinine 1 mg/dL" in evidence
    assert math.isclose(results[(2, "egfr")][2], 30.0)  # a measured eGFR in the window wins


@pytest.mark.spark
def test_drug_products_reach_ingredients_and_labels_are_distinct(results):
    assert results[(1, "two_classes")][2] == 2.0
    assert "cyclophosphamide, mycophenolate" in results[(1, "two_classes")][1]
    assert results[(2, "two_classes")][2] == 1.0  # MMF and mycophenolic acid share a label
    assert results[(1, "acei_days")][2] == 60.0
    assert results[(2, "acei_days")][2] == 5.0


@pytest.mark.spark
def test_composite_evidence_names_the_deciding_children(results):
    assert results[(2, "any")][1].startswith("Hb 8.5 g/dL")
    assert results[(3, "any")][1] == ("no UPCR result in the last 90 days (1 with a unit that cannot be converted "
                                      "to g/g); no Hb result in the last 90 days")
    assert results[(1, "rev")][1] == "a person decides"
