"""The end-of-run invariants checked before anything is published (a failure is exit code 3)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.errors import ConservationError
from jobs.outputs.fs import OutputFS
from jobs.outputs.registry import MANIFEST, expected_paths
from jobs.rules.evaluation import STATUSES
from schemas.criteria import CriteriaFile


def check_conservation(status: DataFrame, criteria: CriteriaFile, persons: int, attrition: list[dict],
                       candidates: DataFrame) -> dict:
    """Every person once per cohort, statuses partition them, the funnel adds up, each candidate once."""
    problems: list[str] = []
    per = {r["cohort"]: (int(r["n"]), int(r["distinct"]), int(r["ranked"]), int(r["ranked_distinct"]),
                         int(r["bad_status"]))
           for r in status.groupBy("cohort").agg(
               F.count("*").alias("n"), F.countDistinct("person_id").alias("distinct"),
               F.count("rank").alias("ranked"), F.countDistinct("rank").alias("ranked_distinct"),
               F.sum(F.when(~F.col("status").isin(*STATUSES), 1).otherwise(0)).alias("bad_status")).collect()}
    cand_rows = {r["cohort"]: (int(r["n"]), int(r["d"])) for r in candidates.groupBy("cohort").agg(
        F.count("*").alias("n"), F.countDistinct("person_id").alias("d")).collect()}
    for cohort in criteria.cohorts:
        n, distinct, ranked_n, ranked_distinct, bad = per.get(cohort, (0, 0, 0, 0, 0))
        if n != persons or distinct != persons:
            problems.append(f"cohort {cohort}: person_status has {n} rows / {distinct} persons, extract has {persons}")
        if bad:
            problems.append(f"cohort {cohort}: {bad} rows with an unknown status")
        if ranked_n != ranked_distinct:
            problems.append(f"cohort {cohort}: ranks are not unique")
        cn, cd = cand_rows.get(cohort, (0, 0))
        if cn != cd or cn != ranked_n:
            problems.append(f"cohort {cohort}: candidates {cn} rows / {cd} persons, ranked in person_status {ranked_n}")
        steps = [r for r in attrition if r["cohort"] == cohort and r["step"] > 0]
        for r in steps:
            if sum(r[o] for o in ("pass", "fail", "unknown", "review")) != persons:
                problems.append(f"cohort {cohort}: outcomes of {r['criterion']} do not add up to {persons}")
    if problems:
        raise ConservationError("conservation check failed: " + "; ".join(problems))
    return {"persons": persons, "checked": ["person_status rows = persons per cohort", "statuses partition persons",
                                            "criterion outcomes add up", "ranks unique", "candidates once each"]}


def check_outputs_written(fs: OutputFS, stage_dir: str, trials: dict[str, list[str]]) -> None:
    """Every output of the registry but the manifest (written last) is in the staging folder, for every trial
    ({trial folder: cohort names})."""
    missing = [p for p in expected_paths(trials) if p != MANIFEST and not fs.exists(f"{stage_dir}/{p}")]
    if missing:
        raise ConservationError(f"conservation check failed: outputs not written: {', '.join(missing)}")
