"""Lab features on hand-built measurements, through the read stage's lab results (jobs.extract.lab_results) and
the aggregation (jobs.features.labs): the window, latest vs max, units, ULN ratios, derived values."""

from __future__ import annotations

from datetime import date

import pytest

from jobs.extract.lab_results import MEASUREMENT_COLUMNS, lab_results
from jobs.features.labs import lab_features
from schemas.criteria import LabDefinition
from schemas.features import LAB_FEATURE, DerivedRequest, LabRequest

pytestmark = pytest.mark.spark

AS_OF = date(2026, 10, 1)  # a 90-day window is 2026-07-04 .. 2026-10-01
UPCR, ALT, CREAT = 3001582, 3006923, 3016723
LABS = {"upcr": LabDefinition(name="UPCR", concept_set="upcr", molar_mass=113.12),
        "alt": LabDefinition(name="ALT", concept_set="alt", default_uln=40, uln_unit="U/L"),
        "creatinine": LabDefinition(name="creatinine", concept_set="creatinine", molar_mass=113.12)}
LATEST = LabRequest("upcr", "numeric", "g/g", 90, "latest")
HIGHEST = LabRequest("upcr", "numeric", "g/g", 90, "max")
ALT_ULN = LabRequest("alt", "numeric", "U/L", 90, "latest")
EGFR = DerivedRequest("egfr_ckd_epi_2021", 90)
REQUESTS = [LATEST, HIGHEST, ALT_ULN, *EGFR.inputs]
D = date.fromisoformat

MEASUREMENTS = [  # id, person, concept, date, value, value concept, unit concept, unit text, range_high
    (1, 1, UPCR, D("2026-09-20"), 250.0, None, 44777612, None, None),  # 250 mg/mmol = 2.21 g/g: the max
    (2, 1, UPCR, D("2026-09-25"), 3.0, None, 0, "mmol/L", None),  # mmol/L: known, no ratio: unconvertible
    (3, 1, UPCR, D("2026-09-28"), 800.0, None, 8723, None, None),  # 800 mg/g = 0.8 g/g: the latest
    (4, 1, UPCR, D("2026-06-01"), 9.0, None, 9510, None, None),  # before the window
    (5, 1, UPCR, D("2026-10-02"), 9.0, None, 9510, None, None),  # after as-of
    (6, 2, UPCR, D("2026-07-04"), 1.0, None, 9510, None, None),  # the window's first day: counted
    (7, 2, UPCR, D("2026-07-03"), 7.0, None, 9510, None, None),  # the day before: not
    (8, 2, ALT, D("2026-09-20"), 80.0, None, 0, "U/L", None),  # no range_high: the default ULN 40 -> 2x
    (9, 3, ALT, D("2026-09-20"), 130.0, None, 0, "U/L", 40.0),  # its own range_high -> 3.25x
    (10, 4, CREAT, D("2026-09-20"), 1.0, None, 8840, None, None),  # female, 46: eGFR derived
    (11, 5, CREAT, D("2026-09-20"), 1.0, None, 8840, None, None),  # no sex recorded: no eGFR
]


@pytest.fixture(scope="module")
def results(spark):
    measurement = spark.createDataFrame(
        MEASUREMENTS, "measurement_id long, person_id long, measurement_concept_id long, measurement_date date,"
                      " value_as_number double, value_as_concept_id long, unit_concept_id long,"
                      " unit_source_value string, range_high double").select(*MEASUREMENT_COLUMNS)
    membership = spark.createDataFrame([("upcr", UPCR), ("alt", ALT), ("creatinine", CREAT)],
                                       "concept_set string, concept_id long")
    targets = {"upcr": {"g/g"}, "alt": {"U/L"}, "creatinine": {"mg/dL"}}
    return lab_results(measurement, membership, LABS, targets, {"upcr": "g/g"})


@pytest.fixture(scope="module")
def features(spark, results):
    demographics = spark.createDataFrame([(4, "female", D("1980-01-15")), (5, None, D("1980-01-15"))],
                                         "person_id long, sex string, birth_date date")
    df = lab_features(results, demographics, REQUESTS, [EGFR], LABS, AS_OF)
    return df, {r["person_id"]: r for r in df.collect()}


def test_lab_results_carry_the_lab_the_unit_and_the_value_in_the_plausibility_unit(results):
    rows = {r["measurement_id"]: r for r in results.collect()}
    assert sorted(rows) == list(range(1, 12))
    assert {i: (rows[i]["lab"], rows[i]["unit_key"]) for i in (1, 2, 3, 8, 10)} == {
        1: ("upcr", "mg/mmol"), 2: ("upcr", "mmol/L"), 3: ("upcr", "mg/g"), 8: ("alt", "U/L"),
        10: ("creatinine", "mg/dL")}
    assert rows[1]["value_canonical"] == pytest.approx(250 / 113.12)
    assert rows[3]["value_canonical"] == pytest.approx(0.8)
    assert rows[2]["value_canonical"] is None  # unconvertible
    assert rows[8]["value_canonical"] is None  # no plausibility unit asked for ALT


def test_every_request_is_a_lab_feature_struct(features):
    df, _ = features
    assert df.columns == ["person_id", *[r.name for r in sorted(REQUESTS)], EGFR.name]
    assert all(df.schema[r.name].dataType.simpleString() == LAB_FEATURE.simpleString() for r in REQUESTS)


def test_latest_and_max_read_usable_results_in_the_window_in_the_request_unit(features):
    _, by_person = features
    latest, highest = by_person[1][LATEST.name], by_person[1][HIGHEST.name]
    assert (latest["value"], latest["unit"], latest["date"]) == (pytest.approx(0.8), "g/g", D("2026-09-28"))
    assert (latest["raw_value"], latest["raw_unit"], latest["concept_id"]) == (800.0, "mg/g", UPCR)
    assert (highest["value"], highest["date"]) == (pytest.approx(250 / 113.12), D("2026-09-20"))
    assert (latest["n_results"], latest["n_unconvertible"]) == (2, 1)  # the mmol/L result is counted, not used
    edge = by_person[2][LATEST.name]
    assert (edge["value"], edge["date"], edge["n_results"]) == (1.0, D("2026-07-04"), 1)


def test_uln_ratio_is_the_result_over_its_range_else_over_the_default_uln(features):
    _, by_person = features
    assert by_person[2][ALT_ULN.name]["uln_ratio"] == pytest.approx(2.0)
    assert by_person[3][ALT_ULN.name]["uln_ratio"] == pytest.approx(3.25)
    assert by_person[2][ALT_ULN.name]["derived"] is None


def test_egfr_is_derived_from_the_latest_creatinine_and_needs_sex(features):
    _, by_person = features
    expected = 142 * min(1.0 / 0.7, 1) ** -0.241 * max(1.0 / 0.7, 1) ** -1.200 * 0.9938 ** 46 * 1.012
    egfr = by_person[4][EGFR.name]
    assert egfr["value"] == pytest.approx(expected, rel=1e-9)
    assert (egfr["unit"], egfr["date"], egfr["raw_value"], egfr["raw_unit"]) == ("mL/min/1.73m2", D("2026-09-20"),
                                                                                 1.0, "mg/dL")
    assert egfr["derived"] == "CKD-EPI 2021 from creatinine 1 mg/dL"
    assert by_person[5][EGFR.name] is None
    assert by_person[1][EGFR.name] is None  # no creatinine: nothing to derive from
