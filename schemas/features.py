"""Schemas of the per-person feature tables written to OUT/features/ (Parquet, one row per person).

Each family has fixed key columns plus one struct column per feature the criteria ask for, named by
`jobs.feature_plan` (e.g. `sle__all`, `kidney_biopsy__183d`, `upcr__g_g__90d__latest`). Every feature has
the same shape within its family (circe's "one event shape"), so any rule can read any feature and a second
trial's criteria need no new Spark code.
"""

from __future__ import annotations

from pyspark.sql import types as T

DEMOGRAPHICS = T.StructType([
    T.StructField("person_id", T.LongType(), False),
    T.StructField("sex", T.StringType()),  # female | male | null (other/unknown gender concept)
    T.StructField("birth_date", T.DateType()),  # birth_datetime, else year/month/day (missing month/day: Jul 1)
    T.StructField("age", T.IntegerType()),  # whole years at the as-of date
    T.StructField("death_date", T.DateType()),
    T.StructField("deceased", T.BooleanType()),  # death on or before as-of
    T.StructField("observed_at_as_of", T.BooleanType()),  # an observation_period covers the as-of date
    T.StructField("observation_end_date", T.DateType()),  # end of the latest observation period
    T.StructField("site", T.StringType()),  # care site name, else its city/state, else person location, else 'unknown'
])

# diagnoses (condition_occurrence + observation) and procedures: one struct per (concept set, window)
EVENT_FEATURE = T.StructType([
    T.StructField("n", T.LongType()),  # records in the window
    T.StructField("first_date", T.DateType()),
    T.StructField("last_date", T.DateType()),
    T.StructField("last_concept_id", T.LongType()),  # source concept of the latest record
])

# therapies (drug_exposure): exposure intervals overlapping the window
DRUG_FEATURE = T.StructType([
    T.StructField("n", T.LongType()),
    T.StructField("first_date", T.DateType()),  # earliest exposure start
    T.StructField("last_date", T.DateType()),  # latest exposure end (or start when no end)
    T.StructField("last_concept_id", T.LongType()),
    T.StructField("days", T.LongType()),  # cumulative exposure days inside the window (overlaps add up)
    T.StructField("ingredients", T.ArrayType(T.LongType())),  # distinct concept-set items (ingredients), sorted
    T.StructField("classes", T.ArrayType(T.StringType())),  # distinct item labels (therapy classes), sorted
])

# labs: latest (or max/min) usable result in the window, in the criterion's unit
LAB_FEATURE = T.StructType([
    T.StructField("value", T.DoubleType()),  # converted to `unit`
    T.StructField("unit", T.StringType()),
    T.StructField("date", T.DateType()),
    T.StructField("concept_id", T.LongType()),  # measurement_concept_id of the result used
    T.StructField("raw_value", T.DoubleType()),  # as recorded
    T.StructField("raw_unit", T.StringType()),  # recognised unit key of the raw value
    T.StructField("uln_ratio", T.DoubleType()),  # raw_value / range_high, else value / default ULN
    T.StructField("positive", T.BooleanType()),  # qualitative result (value_as_concept_id) when present
    T.StructField("n_results", T.LongType()),  # usable results in the window
    T.StructField("n_unconvertible", T.LongType()),  # results in the window whose unit could not be converted
    T.StructField("derived", T.StringType()),  # null, or how the value was derived (e.g. CKD-EPI 2021 eGFR)
])

FAMILIES = ("demographics", "diagnoses", "procedures", "therapies", "labs")
