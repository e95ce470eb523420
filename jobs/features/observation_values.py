"""Observation values (NYHA class, pack-years): per person and request, the latest observation of a concept
set whose value_as_number (mode number) or value_as_concept_id (mode concept) is recorded, in the window.

The lab semantics without units: values are compared as recorded, so a criterion must say what its number
means (`unit` is for reading only). value_as_concept_id 0 ("No matching concept") is no value.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.features.windows import in_window
from schemas.features import ObservationValueRequest


def has_value(req: ObservationValueRequest) -> Column:
    if req.mode == "number":
        return F.col("value_as_number").isNotNull() & ~F.isnan("value_as_number")
    return F.col("value_as_concept_id").isNotNull() & (F.col("value_as_concept_id") != 0)


def with_value_sets(rows: DataFrame, values: DataFrame | None, requests: list[ObservationValueRequest]) -> DataFrame:
    """One boolean column per value set the requests name: the row's value_as_concept_id is a member."""
    sets = sorted({r.value_set for r in requests if r.value_set})
    if not sets or values is None:
        return rows
    flags = (values.where(F.col("concept_set").isin(*sets))
             .groupBy(F.col("concept_id").alias("value_as_concept_id"))
             .agg(*[F.max(F.col("concept_set") == s).alias(f"_in_{s}") for s in sets]))
    return rows.join(F.broadcast(flags), "value_as_concept_id", "left")


def observation_value_features(observation: DataFrame, membership: DataFrame, requests: list[ObservationValueRequest],
                               as_of: date, values: DataFrame | None = None) -> DataFrame:
    """person_id + one OBSERVATION_VALUE_FEATURE struct per request, for persons with a matching record;
    `values` is the membership of the value sets the requests name (value_concept_set)."""
    rows = observation.join(membership.select("concept_set", F.col("concept_id").alias("observation_concept_id")),
                            "observation_concept_id")
    if not requests:
        return rows.select("person_id").distinct()
    rows = with_value_sets(rows, values, requests)
    aggs = []
    for req in requests:
        hit = ((F.col("concept_set") == req.concept_set) & has_value(req)
               & in_window(F.col("observation_date"), as_of, req.lookback_days))
        best = F.max(F.when(hit, F.struct(F.col("observation_date").alias("d"), F.col("observation_id").alias("i"),
                                          F.col("value_as_number").alias("v"),
                                          F.col("value_as_concept_id").alias("vc"),
                                          F.col("observation_concept_id").alias("c"),
                                          (F.coalesce(F.col(f"_in_{req.value_set}"), F.lit(False)) if req.value_set
                                           else F.lit(None).cast("boolean")).alias("in_set"))))
        aggs.append(F.struct(
            (best["v"] if req.mode == "number" else F.lit(None)).cast("double").alias("value"),
            (best["vc"] if req.mode == "concept" else F.lit(None)).cast("long").alias("value_concept_id"),
            best["d"].alias("date"),
            best["c"].cast("long").alias("concept_id"),
            F.count(F.when(hit, 1)).cast("long").alias("n_results"),
            best["in_set"].alias("value_in_set"),
        ).alias(req.name))
    return rows.groupBy("person_id").agg(*aggs)
