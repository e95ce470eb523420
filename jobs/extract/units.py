"""Recognising a result's unit and converting it: the one mechanism, Spark side (the units are data in
`schemas/units.py`).

A result's unit is recognised by unit_concept_id, else by its normalised unit_source_value (Synthea writes
`U/L` with unit_concept_id 0), else, when no unit is recorded at all, by the lab's `unitless_is`. Conversion
factors come from one small broadcast table keyed by (lab, unit key), with one factor column and one offset
column per unit any reader asks for (the criteria's units, and the unit each lab's plausibility range is written
in): a value in unit U is `value_as_number * factor(U) + offset(U)` (the offset is 0 except through an affine
unit equation such as HbA1c's IFCC-NGSP master equation), null when the result's unit cannot be converted to U.
"""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.columns import local_frame
from schemas.criteria import LabDefinition
from schemas.units import alias_table, concept_table, factors_to

UNIT_TEXT_SPACES = " \t\n\u000b\f\r"  # what Java's regex \s matches
CANONICAL = "canonical"  # the factor into the unit a lab's plausibility range is written in


def normalised_unit_text(col: Column) -> Column:
    """schemas.units.normalise_unit_text as a Column: lower case, micro signs folded to `u`, whitespace
    deleted, in one `translate` (characters beyond the replacement string are deleted) because it runs on
    every measurement row."""
    return F.translate(F.lower(col), "µμ" + UNIT_TEXT_SPACES, "uu")


def no_unit_recorded(unit_concept_id: Column, unit_source_value: Column) -> Column:
    return (F.coalesce(unit_concept_id, F.lit(0)) == 0) & (F.coalesce(F.trim(unit_source_value), F.lit("")) == "")


def unit_lookups(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    """(unit_concept_id -> unit key, normalised unit text -> unit key) as small frames to broadcast.

    Joins rather than per-row literal-map lookups, so `unit_key` arrives as a plain column and the optimizer
    cannot copy the lookup into every filter and aggregate that reads it."""
    by_concept = local_frame(spark, sorted(concept_table().items()), "_u_cid long, _u_by_concept string")
    by_text = local_frame(spark, sorted(alias_table().items()), "_u_text string, _u_by_text string")
    return by_concept, by_text


def with_unit_key(results: DataFrame, unitless: Column) -> DataFrame:
    """Adds `unit_key`: by unit_concept_id, else by normalised unit_source_value, else `unitless` when no
    unit is recorded at all, else null (not recognised)."""
    by_concept, by_text = unit_lookups(results.sparkSession)
    joined = (results
              .join(F.broadcast(by_concept), F.col("unit_concept_id") == F.col("_u_cid"), "left")
              .join(F.broadcast(by_text), normalised_unit_text(F.col("unit_source_value")) == F.col("_u_text"),
                    "left"))
    key = F.coalesce(F.col("_u_by_concept"), F.col("_u_by_text"),
                     F.when(no_unit_recorded(F.col("unit_concept_id"), F.col("unit_source_value")), unitless))
    return joined.withColumn("unit_key", key).drop("_u_cid", "_u_by_concept", "_u_text", "_u_by_text")


def factor_column(unit: str) -> str:
    """Name of the factor column into `unit` (or into each lab's canonical unit for CANONICAL)."""
    return "_f_" + _unit_slug(unit)


def offset_column(unit: str) -> str:
    """Name of the offset column into `unit`: 0.0 wherever the factor is set, except for affine equations."""
    return "_o_" + _unit_slug(unit)


def _unit_slug(unit: str) -> str:
    """A column-safe spelling that keeps units apart: `%` and `%{HbA1c}` differ, as do `/min` and `min`."""
    text = unit.lower().replace("%", "pct").replace("/", "_per_").replace("^", "e")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_") or "x"


def factor_rows(labs: dict[str, LabDefinition], targets: dict[str, set[str]],
                canonical: dict[str, str]) -> tuple[list[tuple], list[str]]:
    """(rows, factor and offset column names) of the factor table: one row per (lab, recognised unit) that
    converts to at least one unit the lab is read in."""
    units = sorted({u for us in targets.values() for u in us}) + [CANONICAL]
    columns = [c for u in units for c in (factor_column(u), offset_column(u))]
    if len(set(columns)) != len(columns):
        raise ValueError(f"units {units} do not have distinct factor column names")
    rows = []
    for name in sorted(set(targets) | set(canonical)):
        lab = labs[name]
        wanted = {u: factors_to(u, lab.facts) for u in targets.get(name, ())}
        if name in canonical:
            wanted[CANONICAL] = factors_to(canonical[name], lab.facts)
        for key in sorted(set().union(*[set(f) for f in wanted.values()])):
            cells = []
            for u in units:
                c = wanted.get(u, {}).get(key)
                cells += [c.scale, c.offset] if c is not None else [None, None]
            rows.append((name, key, *cells))
    return rows, columns


def with_unit_factors(results: DataFrame, labs: dict[str, LabDefinition], targets: dict[str, set[str]],
                      canonical: dict[str, str]) -> DataFrame:
    """Adds a factor and an offset column per target unit and for CANONICAL, by a broadcast join on
    (lab, unit_key)."""
    rows, columns = factor_rows(labs, targets, canonical)
    ddl = ", ".join(["_f_lab string", "_f_unit string", *[f"{c} double" for c in columns]])
    factors = local_frame(results.sparkSession, rows, ddl)
    joined = results.join(F.broadcast(factors), (F.col("lab") == F.col("_f_lab"))
                          & (F.col("unit_key") == F.col("_f_unit")), "left")
    return joined.drop("_f_lab", "_f_unit")


def converted(unit: str) -> Column:
    """value_as_number in `unit` (a unit the lab results carry a factor for), null when not convertible."""
    return F.col("value_as_number") * F.col(factor_column(unit)) + F.col(offset_column(unit))
