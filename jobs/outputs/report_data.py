"""The report's aggregates, computed in Spark from the written person_status / demographics: small grouped
counts reach the driver, and person-level rows only for the top-N ranked candidates the report shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

AGE_BANDS = ["<18", "18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+"]
TOP_N = 20


@dataclass
class ReportData:
    # (cohort, criterion) -> persons for whom it is the only failing criterion (relaxing it makes them
    # eligible or possible)
    only_fail: dict[tuple[str, str], int] = field(default_factory=dict)
    # (cohort, criterion) -> persons failing nothing and unknown on it (eligible if it were known to pass ...)
    unknown_not_failing: dict[tuple[str, str], int] = field(default_factory=dict)
    # (cohort, criterion) -> ... and unknown on nothing else: this one result stands between them and eligible
    only_unknown: dict[tuple[str, str], int] = field(default_factory=dict)
    # cohort -> site -> (age band, sex) -> eligible persons
    age_sex: dict[str, dict[str, dict[tuple[str, str], int]]] = field(default_factory=dict)
    top: dict[str, list[dict]] = field(default_factory=dict)  # cohort -> the first TOP_N ranked candidates


def age_band(age) -> F.Column:
    edges = [(18, "<18"), (30, "18-29"), (40, "30-39"), (50, "40-49"), (60, "50-59"), (70, "60-69"), (80, "70-79")]
    out = F.when(age.isNull(), F.lit("unknown"))
    for edge, label in edges:
        out = out.when(age < edge, F.lit(label))
    return out.otherwise(F.lit("80+"))


def criterion_counts(status: DataFrame) -> DataFrame:
    """(cohort, kind, criterion, persons) for the three person-count kinds of ReportData, in one aggregation."""
    n_fail, n_unknown = F.size("failed"), F.size("unknown")
    only_fail = status.where(n_fail == 1).select("cohort", F.lit("only_fail").alias("kind"),
                                                 F.col("failed")[0].alias("criterion"))
    unknown = status.where(n_fail == 0).select("cohort", F.lit("unknown_not_failing").alias("kind"),
                                               F.explode("unknown").alias("criterion"))
    only_unknown = status.where((n_fail == 0) & (n_unknown == 1)).select(
        "cohort", F.lit("only_unknown").alias("kind"), F.col("unknown")[0].alias("criterion"))
    return only_fail.unionByName(unknown).unionByName(only_unknown).groupBy("cohort", "kind", "criterion").count()


def report_data(status: DataFrame, demographics: DataFrame, candidates: DataFrame, top_n: int = TOP_N) -> ReportData:
    data = ReportData()
    for r in criterion_counts(status).collect():
        getattr(data, r["kind"])[(r["cohort"], r["criterion"])] = int(r["count"])
    sex = F.coalesce(F.col("sex"), F.lit("other"))
    eligible = status.where(F.col("status") == "eligible").select("cohort", "person_id", "site")
    demo = demographics.select("person_id", age_band(F.col("age")).alias("band"), sex.alias("sex"))
    for r in (eligible.join(demo, "person_id", "left").groupBy("cohort", "site", "band", "sex").count().collect()):
        site = data.age_sex.setdefault(r["cohort"], {}).setdefault(r["site"] or "", {})
        site[(r["band"] or "unknown", r["sex"] or "other")] = int(r["count"])
    top = (candidates.where(F.col("rank") <= top_n)
           .select("cohort", "rank", "person_id", "status", "site", F.array_join("summary", " | ").alias("summary"))
           .orderBy("cohort", "rank").collect())
    for r in top:
        data.top.setdefault(r["cohort"], []).append(r.asDict())
    return data
