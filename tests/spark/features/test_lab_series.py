"""Lab series features on hand-built measurements: counts, meeting counts, dates and range in the request's
unit, inside the window only, unconvertible results left out (jobs.features.lab_series via lab_features)."""

from __future__ import annotations

from datetime import date

import pytest

from jobs.extract.lab_results import MEASUREMENT_COLUMNS, lab_results
from jobs.features.labs import lab_features
from schemas.criteria import LabDefinition
from schemas.features import LAB_SERIES_FEATURE, LabSeriesRequest

pytestmark = pytest.mark.spark

AS_OF = date(2026, 10, 1)  # a 90-day window is 2026-07-04 .. 2026-10-01
UPCR = 3001582
LABS = {"upcr": LabDefinition(name="UPCR", concept_set="upcr", molar_mass=113.12)}
HIGH = LabSeriesRequest("upcr", "g/g", 90, ">=", 1.5, None)
BAND = LabSeriesRequest("upcr", "mg/g", 90, "between", 500, 1000)
ANY = LabSeriesRequest("upcr", "g/g", None, None, None, None)
D = date.fromisoformat
MEASUREMENTS = [  # id, person, concept, date, value, value concept, unit concept, unit text, range_high
    (1, 1, UPCR, D("2026-07-04"), 2.0, None, 9510, None, None),  # first day of the window
    (2, 1, UPCR, D("2026-08-01"), 800.0, None, 8723, None, None),  # 0.8 g/g
    (3, 1, UPCR, D("2026-09-01"), 226.24, None, 44777612, None, None),  # 226.24 mg/mmol = 2.0 g/g
    (4, 1, UPCR, D("2026-09-15"), 3.0, None, 0, "mmol/L", None),  # unconvertible: not a result here
    (5, 1, UPCR, D("2026-07-03"), 9.0, None, 9510, None, None),  # the day before the window
    (6, 1, UPCR, D("2026-10-02"), 9.0, None, 9510, None, None),  # after as-of: never
]


@pytest.fixture(scope="module")
def features(spark):
    measurement = spark.createDataFrame(
        MEASUREMENTS, "measurement_id long, person_id long, measurement_concept_id long, measurement_date date,"
                      " value_as_number double, value_as_concept_id long, unit_concept_id long,"
                      " unit_source_value string, range_high double").select(*MEASUREMENT_COLUMNS)
    membership = spark.createDataFrame([("upcr", UPCR)], "concept_set string, concept_id long")
    rows = lab_results(measurement, membership, LABS, {"upcr": {"g/g", "mg/g"}}, {})
    df = lab_features(rows, None, [], [], LABS, AS_OF, [HIGH, BAND, ANY])
    return df, {r["person_id"]: r for r in df.collect()}


def test_series_columns_have_the_contract_shape(features):
    df, _ = features
    assert [f.name for f in df.schema.fields] == ["person_id", *sorted(r.name for r in (HIGH, BAND, ANY))]
    for req in (HIGH, BAND, ANY):
        assert df.schema[req.name].dataType.simpleString() == LAB_SERIES_FEATURE.simpleString()


def test_counts_dates_and_range_in_the_window(features):
    _, rows = features
    high = rows[1][HIGH.name]
    assert (high["n_results"], high["n_meeting"]) == (3, 2)
    assert (high["first_date"], high["last_date"]) == (D("2026-07-04"), D("2026-09-01"))
    assert (high["first_meeting_date"], high["last_meeting_date"]) == (D("2026-07-04"), D("2026-09-01"))
    assert high["min_value"] == pytest.approx(0.8) and high["max_value"] == pytest.approx(2.0)
    band = rows[1][BAND.name]  # 800 mg/g only, bounds inclusive and in the request's unit
    assert (band["n_meeting"], band["first_meeting_date"]) == (1, D("2026-08-01"))
    every = rows[1][ANY.name]  # whole history, no threshold: every usable result meets, none after as-of
    assert (every["n_results"], every["n_meeting"], every["first_date"]) == (4, 4, D("2026-07-03"))
    assert every["max_value"] == pytest.approx(9.0)
