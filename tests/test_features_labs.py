"""Unit recognition and conversion of lab results, on hand-built rows (jobs.features_labs)."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from jobs.features_labs import converted, normalised_unit_text, with_unit_key
from schemas.criteria import LabDefinition
from schemas.units import normalise_unit_text

UPCR = LabDefinition(name="UPCR", concept_set="upcr", molar_mass=113.12)  # creatinine, for mg/mmol
CREATININE = LabDefinition(name="creatinine", concept_set="creat", molar_mass=113.12)

ROWS = [  # id, value, unit_concept_id, unit_source_value
    (1, 2.0, 9510, None),  # g/g by concept
    (2, 800.0, 8723, "ignored"),  # mg/g by concept: the concept wins over the text
    (3, 250.0, 0, " mg/mmol "),  # concept 0 (Synthea): by normalised text
    (4, 1.5, None, "G/G{creat}"),  # null concept: by text, case and annotation folded
    (5, 3.0, 8840, None),  # mg/dL: a recognised unit that cannot express a ratio, not convertible to g/g
    (6, 4.0, 0, "furlongs"),  # not recognised at all
    (7, 5.0, 0, ""),  # no unit recorded: the lab's unitless default
]


@pytest.fixture(scope="module")
def keyed(spark):
    df = spark.createDataFrame(ROWS, "id int, value_as_number double, unit_concept_id long, unit_source_value string")
    return {r["id"]: r for r in with_unit_key(df, F.lit("g/g"))
            .withColumn("as_g_per_g", converted("g/g", UPCR)).collect()}


def test_unit_key_by_concept_then_text_then_unitless_default(keyed):
    assert {i: keyed[i]["unit_key"] for i in keyed} == {
        1: "g/g", 2: "mg/g", 3: "mg/mmol", 4: "g/g", 5: "mg/dL", 6: None, 7: "g/g"}


def test_values_converted_to_the_criterion_unit(keyed):
    assert keyed[1]["as_g_per_g"] == pytest.approx(2.0)
    assert keyed[2]["as_g_per_g"] == pytest.approx(0.8)
    assert keyed[3]["as_g_per_g"] == pytest.approx(250 / 113.12)  # mg protein per 113.12 mg creatinine
    assert keyed[4]["as_g_per_g"] == pytest.approx(1.5)
    assert keyed[7]["as_g_per_g"] == pytest.approx(5.0)


def test_unconvertible_or_unknown_units_give_no_value(keyed):
    assert keyed[5]["as_g_per_g"] is None and keyed[6]["as_g_per_g"] is None


def test_creatinine_mg_dl_and_umol_l_are_one_quantity(spark):
    df = spark.createDataFrame([(1, 1.0, 8840, None), (2, 88.4, 0, "umol/L")],
                               "id int, value_as_number double, unit_concept_id long, unit_source_value string")
    got = {r["id"]: r["v"] for r in with_unit_key(df, F.lit(None).cast("string"))
           .select("id", converted("mg/dL", CREATININE).alias("v")).collect()}
    assert got[1] == pytest.approx(1.0) and got[2] == pytest.approx(1.0, rel=1e-3)


def test_unit_text_normalised_as_the_alias_table_is(spark):
    """The Column form (used on every measurement row) and the Python form (used to build the alias table)
    fold case, micro signs and whitespace the same way."""
    texts = [" mg/dL ", "MG / DL", "\u00b5mol/L", "\tμMOL\n/ l\r", "10*3/uL", "10^3 / \u00b5L", "G/G{creat}", "U/L",
             "x\u000b\fy", "", "   "]
    got = spark.createDataFrame([(t,) for t in texts], "t string").select(
        "t", normalised_unit_text(F.col("t")).alias("n")).collect()
    assert {r["t"]: r["n"] for r in got} == {t: normalise_unit_text(t) for t in texts}
