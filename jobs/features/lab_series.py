"""Several results of one lab in a window: how many, how many meet a threshold, when, and their range.

One aggregate expression per request over the lab rows (evaluated in the labs family's single groupBy), so a
`lab_series` rule costs no extra pass over the measurements. The tests built on it (count, apart, stable)
are decided in jobs/rules/value_rules.py.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.extract.units import converted
from jobs.features.windows import in_window
from jobs.quality.quarantine import UNIT_FLAG
from schemas.features import LabSeriesRequest


def meets(x: Column, comparator: str | None, value: float | None, upper: float | None) -> Column:
    """x against a threshold (inclusive bounds for `between`); no comparator: every value meets."""
    if comparator is None:
        return x.isNotNull()
    if comparator == "between":
        return (x >= value) & (x <= upper)
    return {">": x > value, ">=": x >= value, "<": x < value, "<=": x <= value}[comparator]


def series_aggregate(req: LabSeriesRequest, as_of: date) -> Column:
    """One LAB_SERIES_FEATURE struct for a request, over lab_results rows."""
    value = F.when(~F.col(UNIT_FLAG), converted(req.unit))  # a result quarantined for its unit is never evidence
    usable = (F.col("lab") == req.lab) & in_window(F.col("measurement_date"), as_of, req.lookback_days) \
        & value.isNotNull()
    meeting = usable & meets(value, req.comparator, req.value, req.max)
    day = F.col("measurement_date")
    latest = F.max(F.when(usable, F.struct(day.alias("d"), F.col("measurement_id").alias("id"),
                                           F.col("measurement_concept_id").alias("cid"))))
    return F.struct(
        F.count(F.when(usable, 1)).alias("n_results"),
        F.count(F.when(meeting, 1)).alias("n_meeting"),
        F.min(F.when(usable, day)).alias("first_date"),
        F.max(F.when(usable, day)).alias("last_date"),
        F.min(F.when(meeting, day)).alias("first_meeting_date"),
        F.max(F.when(meeting, day)).alias("last_meeting_date"),
        F.min(F.when(usable, value)).alias("min_value"),
        F.max(F.when(usable, value)).alias("max_value"),
        latest["cid"].alias("last_concept_id"),
    ).alias(req.name)
