"""Unit recognition and conversion of lab results, on hand-built rows (jobs.extract.units)."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from jobs.extract.units import (
    CANONICAL,
    converted,
    factor_column,
    normalised_unit_text,
    with_unit_factors,
    with_unit_key,
)
from schemas.criteria import LabDefinition
from schemas.units import normalise_unit_text

pytestmark = pytest.mark.spark

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
RESULTS = "id int, lab string, value_as_number double, unit_concept_id long, unit_source_value string"


@pytest.fixture(scope="module")
def keyed(spark):
    df = spark.createDataFrame([(i, "upcr", v, c, t) for i, v, c, t in ROWS], RESULTS)
    with_factors = with_unit_factors(with_unit_key(df, F.lit("g/g")), {"upcr": UPCR}, {"upcr": {"g/g"}}, {})
    return {r["id"]: r for r in with_factors.withColumn("as_g_per_g", converted("g/g")).collect()}


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
    df = spark.createDataFrame([(1, "creatinine", 1.0, 8840, None), (2, "creatinine", 88.4, 0, "umol/L")], RESULTS)
    keyed = with_unit_key(df, F.lit(None).cast("string"))
    got = {r["id"]: r["v"] for r in with_unit_factors(keyed, {"creatinine": CREATININE}, {"creatinine": {"mg/dL"}}, {})
           .select("id", converted("mg/dL").alias("v")).collect()}
    assert got[1] == pytest.approx(1.0) and got[2] == pytest.approx(1.0, rel=1e-3)


def test_each_lab_converts_with_its_own_factors_and_into_its_canonical_unit(spark):
    """One factor table for every lab: a row only takes the factors of its own lab (creatinine's umol/L needs
    creatinine's molar mass; a lab that is not read in a unit gets no factor for it), and the canonical factor
    converts into the unit of each lab's plausibility range."""
    df = spark.createDataFrame([(1, "creatinine", 88.4, 0, "umol/L"), (2, "hemoglobin", 120.0, 8636, None),
                                (3, "hemoglobin", 12.0, 8713, None)], RESULTS)
    labs = {"creatinine": CREATININE, "hemoglobin": LabDefinition(name="Hb", concept_set="hb")}
    targets = {"creatinine": {"mg/dL"}, "hemoglobin": {"g/L"}}
    canonical = {"creatinine": "mg/dL", "hemoglobin": "g/dL"}
    out = with_unit_factors(with_unit_key(df, F.lit(None).cast("string")), labs, targets, canonical)
    assert {factor_column("mg/dL"), factor_column("g/L"), factor_column(CANONICAL)} <= set(out.columns)
    got = {r["id"]: (r["mg_dl"], r["g_l"], r["canonical"]) for r in out.select(
        "id", converted("mg/dL").alias("mg_dl"), converted("g/L").alias("g_l"),
        converted(CANONICAL).alias("canonical")).collect()}
    assert got[1][0] == pytest.approx(1.0, rel=1e-3) and got[1][1] is None
    assert got[1][2] == pytest.approx(1.0, rel=1e-3)
    assert got[2][0] is None and got[2][1] == pytest.approx(120.0) and got[2][2] == pytest.approx(12.0)
    assert got[3][1] == pytest.approx(120.0) and got[3][2] == pytest.approx(12.0)


def test_unit_text_normalised_as_the_alias_table_is(spark):
    """The Column form (used on every measurement row) and the Python form (used to build the alias table)
    fold case, micro signs and whitespace the same way."""
    texts = [" mg/dL ", "MG / DL", "\u00b5mol/L", "\tμMOL\n/ l\r", "10*3/uL", "10^3 / \u00b5L", "G/G{creat}", "U/L",
             "x\u000b\fy", "", "   "]
    got = spark.createDataFrame([(t,) for t in texts], "t string").select(
        "t", normalised_unit_text(F.col("t")).alias("n")).collect()
    assert {r["t"]: r["n"] for r in got} == {t: normalise_unit_text(t) for t in texts}


def test_hba1c_converts_by_the_affine_master_equation_both_ways(spark):
    """The factor table's offset column: NGSP % = 0.09148 x IFCC mmol/mol + 2.152 (53 mmol/mol ~ 7.0 %), and
    back; %{HbA1c} (concept 9225) is a percent; mmol/mol is no percent for a lab without the equation."""
    hba1c = LabDefinition(name="HbA1c", concept_set="a", equations=["hba1c_ifcc_ngsp"])
    df = spark.createDataFrame([(1, "hba1c", 53.0, 9579, None), (2, "hba1c", 7.0, 9225, None),
                                (3, "hba1c", 7.0, 0, "%"), (4, "other", 53.0, 9579, None)], RESULTS)
    labs = {"hba1c": hba1c, "other": LabDefinition(name="other", concept_set="b")}
    out = with_unit_factors(with_unit_key(df, F.lit(None).cast("string")), labs,
                            {"hba1c": {"%", "mmol/mol"}, "other": {"%"}}, {})
    got = {r["id"]: (r["pct"], r["ifcc"]) for r in out.select(
        "id", converted("%").alias("pct"), converted("mmol/mol").alias("ifcc")).collect()}
    assert got[1][0] == pytest.approx(7.0, abs=0.001) and got[1][1] == pytest.approx(53.0)
    assert got[2] == (pytest.approx(7.0), pytest.approx((7.0 - 2.152) / 0.09148))
    assert got[3] == got[2]
    assert got[4] == (None, None)
