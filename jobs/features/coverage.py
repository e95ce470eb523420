"""Drug coverage: distinct days covered by the union of exposure intervals, and the covered run reaching the
window's end (issue 16: `min_days` used to add records up, so three concurrent 30-day prescriptions made 90).

Interval merging with built-ins only: per (person, request), exposures clipped to the window are ordered by
start; an exposure opens a new island when it starts more than `max_gap_days + 1` days after every earlier
one ended (the running max of their ends); an island spans its first start to its last end, so bridged
gaps count as covered. Covered days = the sum of island lengths; the run = the last island's length up to
the window's end when that island ends no more than `max_gap_days` before it, else 0.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.columns import local_frame
from jobs.features.windows import first_day, window_end
from schemas.features import EventRequest


def coverage_features(joined: DataFrame, requests: list[EventRequest], as_of: date) -> DataFrame | None:
    """person_id + `<request>__days`, `<request>__run` (long) per coverage request, or None when no request
    needs coverage. `joined`: drug exposures (person_id, start_date, end_date) with their concept_set."""
    reqs = [r for r in requests if r.max_gap_days is not None]
    if not reqs:
        return None
    spec = local_frame(joined.sparkSession,
                       [(r.name, r.concept_set, first_day(window_end(as_of, r.ends_days_before), r.within_days),
                         window_end(as_of, r.ends_days_before), r.max_gap_days) for r in reqs],
                       "req string, concept_set string, w_first date, w_last date, gap int")
    clipped = (joined.join(F.broadcast(spec), "concept_set")
               .where((F.col("start_date") <= F.col("w_last"))
                      & (F.col("w_first").isNull() | (F.col("end_date") >= F.col("w_first"))))
               .select("person_id", "req", "w_last", "gap",
                       F.greatest(F.col("start_date"), F.coalesce(F.col("w_first"), F.col("start_date"))).alias("s"),
                       F.least(F.col("end_date"), F.col("w_last")).alias("e")))
    islands = merged_islands(clipped)
    last = F.max(F.struct(F.col("e"), F.col("s")))
    per_req = (islands.groupBy("person_id", "req", "w_last", "gap")
               .agg(F.sum(F.datediff("e", "s") + 1).cast("long").alias("days"), last.alias("last")))
    run = F.when(F.datediff("w_last", F.col("last")["e"]) <= F.col("gap"),
                 F.datediff("w_last", F.col("last")["s"]) + 1).otherwise(0).cast("long")
    per_req = per_req.select("person_id", "req", "days", run.alias("run"))
    return per_req.groupBy("person_id").agg(*[
        agg for r in reqs for agg in (F.max(F.when(F.col("req") == r.name, F.col("days"))).alias(f"{r.name}__days"),
                                      F.max(F.when(F.col("req") == r.name, F.col("run"))).alias(f"{r.name}__run"))])


def merged_islands(clipped: DataFrame) -> DataFrame:
    """(person_id, req, s, e, w_last, gap) intervals -> one row per island of intervals whose gaps are at most
    `gap` days (adjacent intervals, end + 1 = next start, always merge)."""
    order = Window.partitionBy("person_id", "req").orderBy("s", "e")
    before = order.rowsBetween(Window.unboundedPreceding, -1)
    prev_end = F.max("e").over(before)
    new = (prev_end.isNull() | (F.datediff("s", prev_end) > F.col("gap") + 1)).cast("int")
    numbered = (clipped.withColumn("new", new)
                .withColumn("island", F.sum("new").over(order.rowsBetween(Window.unboundedPreceding, 0))))
    return (numbered.groupBy("person_id", "req", "w_last", "gap", "island")
            .agg(F.min("s").alias("s"), F.max("e").alias("e")))
