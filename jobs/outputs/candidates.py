"""The ranked candidate lists: `candidates/` (Parquet, every cohort) and one `candidates_<cohort>.csv` each."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.outputs.fs import OutputFS
from schemas.criteria import CriteriaFile


def write_candidates(status: DataFrame, criteria: CriteriaFile, stage_dir: str, fs: OutputFS) -> DataFrame:
    """candidates/ (Parquet, all cohorts) and candidates_<cohort>.csv, ordered by rank."""
    cand = (status.where(F.col("rank").isNotNull())
            .select("cohort", "rank", "person_id", "status", "site", F.size("unknown").alias("n_unknown"),
                    "unknown", "review", "evidence_date", "summary", "reasons"))
    cand.repartition(1).sortWithinPartitions("cohort", "rank").write.parquet(f"{stage_dir}/candidates")
    cand = status.sparkSession.read.parquet(f"{stage_dir}/candidates")
    for cohort in criteria.cohorts:
        tmp = f"{stage_dir}/_work/csv_{cohort}"
        (cand.where(F.col("cohort") == cohort)
         .select("rank", "person_id", "status", "site", "n_unknown",
                 F.array_join("unknown", ";").alias("unknown"), F.array_join("review", ";").alias("review"),
                 F.col("evidence_date").cast("string").alias("evidence_date"),
                 F.array_join("summary", " | ").alias("summary"), F.array_join("reasons", " | ").alias("reasons"))
         .repartition(1).sortWithinPartitions("rank")
         .write.option("header", True).option("emptyValue", "").option("lineSep", "\n").csv(tmp))
        part = next(n for n in fs.list(tmp) if n.startswith("part-") and n.endswith(".csv"))
        fs.rename(f"{tmp}/{part}", f"{stage_dir}/candidates_{cohort}.csv")
    return cand
