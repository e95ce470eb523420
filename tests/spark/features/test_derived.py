"""Units and derived values end to end on hand-built OMOP rows (read stage, lab features, criteria): each unit
conversion, each derivation's pass / fail / unknown, and the pairing edges (same day, latest pair, history window,
an RR interval before a heart rate, a measured value before a derived one). Expected values are computed here
from the published formulas, not by the job's code."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from jobs.rules.loader import load_criteria
from tests.support.omop_builder import Extract
from tests.support.pipeline_helpers import outcomes

pytestmark = pytest.mark.spark

AS_OF = date(2026, 10, 1)
FILE = Path(__file__).resolve().parents[2] / "data" / "units_derived.yaml"
HBA1C, GLUCOSE, K, WEIGHT, HEIGHT, BMI = 3004410, 3004501, 3023103, 3025315, 3036277, 3038553
CREAT, UALB, UCREAT, HR = 3016723, 3000034, 3017250, 3027018
QT, RR, BNP = 2_000_000_101, 2_000_000_102, 2_000_000_104


def _extract() -> Extract:
    e = Extract()
    # person 1: female, 56 at as-of; passes the inclusions, excluded by potassium
    e.person(1, "female", "1970-01-01")
    e.lab(1, HBA1C, "2026-09-01", 53, 9579)  # IFCC 53 mmol/mol = NGSP 7.0004 %: in 7.0-10.5
    e.lab(1, GLUCOSE, "2026-09-01", 108, 8840)  # 108 mg/dL / 180.16 g/mol = 5.99 mmol/L
    e.lab(1, K, "2026-09-01", 5.8, 9557)  # 5.8 mEq/L = 5.8 mmol/L (valence 1): > 5.5, excluded
    e.lab(1, WEIGHT, "2026-09-01", 220.462, 8739)  # 220.462 lb = 100.0 kg
    e.lab(1, HEIGHT, "2020-01-01", 70.8661, 9327)  # 70.8661 in = 180.0 cm, years ago: height reads the history
    e.lab(1, CREAT, "2026-09-01", 1.0, 8840)
    e.lab(1, UALB, "2026-08-01", 50, 8751).lab(1, UCREAT, "2026-08-01", 100, 8840)  # an older pair: 50 mg/g
    e.lab(1, UALB, "2026-09-10", 300, 8751).lab(1, UCREAT, "2026-09-10", 100, 8840)  # the latest pair: 300 mg/g
    e.lab(1, UALB, "2026-09-20", 5, 8751)  # a later albumin without its creatinine: never paired
    e.lab(1, QT, "2026-09-15", 400, 9593).lab(1, HR, "2026-09-15", 60, 8541)  # RR 1 s from HR 60: QTcF 400
    e.lab(1, BNP, "2026-09-01", 300, 8725)  # 300 ng/L = 300 pg/mL
    # person 2: male, 66; fails the inclusions, excluded by QTc
    e.person(2, "male", "1960-06-01")
    e.lab(2, HBA1C, "2026-09-01", 6.5, 9225)  # %{HbA1c} by concept 9225: 6.5 % = 47.5 mmol/mol
    e.lab(2, GLUCOSE, "2026-09-01", 8.0, 0, "mmol/L")  # by unit text
    e.lab(2, K, "2026-09-01", 4.0, 8753)
    e.lab(2, BMI, "2026-09-01", 32, 9531)  # a measured BMI wins over weight and height
    e.lab(2, WEIGHT, "2026-09-01", 60, 9529).lab(2, HEIGHT, "2026-09-01", 1.8, 9546)  # would give 18.5
    e.lab(2, CREAT, "2026-09-01", 88.4, 8749)  # 88.4 umol/L = 1.0 mg/dL
    e.lab(2, UALB, "2026-09-10", 10, 8751).lab(2, UCREAT, "2026-09-11", 100, 8840)  # not the same day: no UACR
    e.lab(2, QT, "2026-09-15", 480, 9593).lab(2, RR, "2026-09-15", 1000, 9593)  # RR 1 s: QTcF 480
    e.lab(2, HR, "2026-09-15", 120, 8541)  # a heart rate the same day: the RR interval is read first
    e.lab(2, BNP, "2026-09-01", 50, 8845)
    # person 3: results that cannot be used
    e.person(3, "female", "1980-01-01")
    e.lab(3, HBA1C, "2026-09-01", 7.5, 0, "furlongs")  # unconvertible: unknown, and said so
    e.lab(3, WEIGHT, "2026-09-01", 80, 9529)  # no height: no BMI
    e.lab(3, QT, "2026-09-15", 420, 9593)  # no RR and no heart rate: no QTc
    e.lab(3, UALB, "2026-05-01", 300, 8751).lab(3, UCREAT, "2026-05-01", 100, 8840)  # a pair outside 90 days
    return e


@pytest.fixture(scope="module")
def results(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("derived")
    return outcomes(spark, _extract().write(tmp / "omop"), load_criteria(FILE).model, AS_OF, tmp / "work")


def _ckd_epi_2009(scr: float, age: int, female: bool) -> float:
    k, a = (0.7, -0.329) if female else (0.9, -0.411)
    return 141 * min(scr / k, 1) ** a * max(scr / k, 1) ** -1.209 * 0.993 ** age * (1.018 if female else 1)


def _ckd_epi_2021(scr: float, age: int, female: bool) -> float:
    k, a = (0.7, -0.241) if female else (0.9, -0.302)
    return 142 * min(scr / k, 1) ** a * max(scr / k, 1) ** -1.200 * 0.9938 ** age * (1.012 if female else 1)


EXPECTED = {
    1: dict(a1c_pct="pass", a1c_ifcc="pass", glucose="pass", potassium="fail", bmi="pass", egfr09="pass",
            egfr21="pass", uacr="pass", qtc="pass", bnp="pass"),
    2: dict(a1c_pct="fail", a1c_ifcc="fail", glucose="fail", potassium="pass", bmi="pass", egfr09="pass",
            egfr21="pass", uacr="unknown", qtc="fail", bnp="fail"),
    3: dict(a1c_pct="unknown", a1c_ifcc="unknown", glucose="unknown", potassium="unknown", bmi="unknown",
            egfr09="unknown", egfr21="unknown", uacr="unknown", qtc="unknown", bnp="unknown"),
}


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_outcomes(results, pid):
    got = {c: results[(pid, c)][0] for c in EXPECTED[pid]}
    assert got == EXPECTED[pid]


def test_units_convert_into_the_criterion_unit(results):
    v = {c: results[(1, c)][2] for c in ("a1c_pct", "a1c_ifcc", "glucose", "potassium", "bnp")}
    assert v["a1c_pct"] == pytest.approx(0.09148 * 53 + 2.152)  # the master equation, affine
    assert v["a1c_pct"] == pytest.approx(7.0, abs=0.001)
    assert v["a1c_ifcc"] == pytest.approx(53.0)
    assert v["glucose"] == pytest.approx(108 * 10 / 180.16)  # mg/dL -> g/L -> mmol/L
    assert v["potassium"] == pytest.approx(5.8) and v["bnp"] == pytest.approx(300.0)
    assert results[(2, "a1c_ifcc")][2] == pytest.approx((6.5 - 2.152) / 0.09148)  # the reverse direction
    assert results[(2, "a1c_pct")][2] == pytest.approx(6.5)
    assert results[(2, "glucose")][2] == pytest.approx(8.0)
    assert "HbA1c 7 % on 2026-09-01" in results[(1, "a1c_pct")][1]


def test_bmi_from_weight_and_the_latest_height_ever_unless_measured(results):
    assert results[(1, "bmi")][2] == pytest.approx(100.0 / 1.8 ** 2, rel=1e-5)
    assert "BMI from weight 100 kg, height 180 cm" in results[(1, "bmi")][1]
    assert results[(2, "bmi")][2] == pytest.approx(32.0) and "from" not in results[(2, "bmi")][1]
    assert results[(3, "bmi")][1] == "no BMI result in the last 90 days"


def test_egfr_equation_is_the_one_the_criterion_names(results):
    assert results[(1, "egfr09")][2] == pytest.approx(_ckd_epi_2009(1.0, 56, True), rel=1e-9)
    assert results[(1, "egfr21")][2] == pytest.approx(_ckd_epi_2021(1.0, 56, True), rel=1e-9)
    assert results[(2, "egfr09")][2] == pytest.approx(_ckd_epi_2009(88.4 / 88.42, 66, False), rel=1e-3)
    assert results[(1, "egfr09")][2] != pytest.approx(results[(1, "egfr21")][2], rel=1e-3)
    assert "CKD-EPI 2009 (no race factor) from creatinine 1 mg/dL" in results[(1, "egfr09")][1]


def test_uacr_pairs_albumin_and_creatinine_of_one_day_the_latest_such_day(results):
    value = results[(1, "uacr")]
    assert value[2] == pytest.approx(300.0)  # 300 mg/L / 1 g/L, the 09-10 pair; not 50 (older), never 5/100
    assert "on 2026-09-10" in value[1] and "UACR from urine_albumin 300 mg/L, urine_creatinine 100 mg/dL" in value[1]
    assert results[(2, "uacr")][1] == "no UACR result in the last 90 days"  # results of two days are not paired
    assert results[(3, "uacr")][0] == "unknown"  # the only pair is outside the window


def test_qtc_fridericia_from_rr_else_heart_rate(results):
    assert results[(1, "qtc")][2] == pytest.approx(400.0)  # 400 / (60/60)^(1/3)
    assert "heart_rate 60 /min" in results[(1, "qtc")][1]
    assert results[(2, "qtc")][2] == pytest.approx(480.0)  # the RR interval (1 s), not HR 120 (-> 604.8)
    assert results[(3, "qtc")][0] == "unknown"


def test_an_unconvertible_result_is_named_in_the_evidence(results):
    assert results[(3, "a1c_pct")][1] == ("no HbA1c result in the last 90 days "
                                          "(1 with a unit that cannot be converted to %)")
