"""The main job: read the extract, check it, build features, evaluate criteria, rank, write, publish.

Every output goes to a staging folder beside `--out`; only when all are written and the conservation checks
hold is it renamed into place (see jobs/publish.py). Stage timings go to the manifest.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import evaluation as ev
from jobs import publish, quality_hook
from jobs.criteria_loader import file_sha256
from jobs.errors import ConservationError
from jobs.feature_plan import FeaturePlan, plan_features
from jobs.features_demographics import demographics
from jobs.features_events import (
    diagnosis_events,
    drug_events,
    drug_features,
    event_features,
    procedure_events,
)
from jobs.features_labs import MEASUREMENT_COLUMNS, lab_features, lab_results
from jobs.omop_reader import OmopExtract
from jobs.output_fs import OutputFS
from jobs.report import write_counts_csv, write_report
from jobs.session import described, expression_codegen
from jobs.vocabulary import ResolvedConceptSets, resolve_concept_sets
from schemas.criteria import CriteriaFile

log = logging.getLogger("cohort_finder")

COLUMNS: dict[str, list[str]] = {
    "person": ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth",
               "birth_datetime", "care_site_id", "location_id"],
    "observation_period": ["person_id", "observation_period_start_date", "observation_period_end_date"],
    "death": ["person_id", "death_date"],
    "visit_occurrence": ["person_id", "visit_start_date", "care_site_id"],
    "care_site": ["care_site_id", "care_site_name", "location_id"],
    "location": ["location_id", "city", "state"],
    "condition_occurrence": ["condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date",
                             "condition_end_date"],
    "observation": ["observation_id", "person_id", "observation_concept_id", "observation_date"],
    "procedure_occurrence": ["procedure_occurrence_id", "person_id", "procedure_concept_id", "procedure_date"],
    "drug_exposure": ["drug_exposure_id", "person_id", "drug_concept_id", "drug_exposure_start_date",
                      "drug_exposure_end_date", "days_supply"],
    "measurement": MEASUREMENT_COLUMNS,
}
EVENT_TABLES = ("condition_occurrence", "observation", "procedure_occurrence", "drug_exposure", "measurement")


@dataclass
class RunConfig:
    omop: str
    criteria: CriteriaFile
    criteria_path: str
    out: str
    as_of: date | None = None
    overwrite: bool = False
    min_cell_count: int = 0
    jdbc_schema: str | None = None
    jdbc_properties: dict[str, str] = field(default_factory=dict)
    fail_on_quality_warnings: bool = False


@dataclass
class RunResult:
    out: str
    manifest: dict


class Timer:
    """Wall seconds per pipeline stage (for the manifest); the stage also names its Spark jobs."""

    def __init__(self, spark: SparkSession | None = None) -> None:
        self.spark = spark
        self.stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        log.info("stage %s ...", name)
        try:
            with described(self.spark, name) if self.spark else nullcontext():
                yield
        finally:
            self.stages[name] = round(self.stages.get(name, 0.0) + time.perf_counter() - t0, 3)


def resolve_as_of(extract: OmopExtract, given: date | None) -> tuple[date, str]:
    """--as-of, else cdm_source.source_release_date, else today; returns the date and where it came from."""
    if given is not None:
        return given, "--as-of"
    if extract.has("cdm_source"):
        row = extract.read("cdm_source", ["source_release_date"]).where(
            F.col("source_release_date").isNotNull()).agg(F.max("source_release_date").alias("d")).first()
        if row and row["d"]:
            return row["d"], "cdm_source.source_release_date"
    return datetime.now(UTC).date(), "today (no --as-of, no cdm_source.source_release_date)"


def read_tables(extract: OmopExtract) -> dict[str, DataFrame]:
    frames = {"person": extract.read("person", COLUMNS["person"], required=True)}
    for table, cols in COLUMNS.items():
        if table != "person":
            frames[table] = extract.read(table, cols)
    return frames


def prepare_inputs(spark: SparkSession, extract: OmopExtract,
                   criteria: CriteriaFile) -> tuple[dict[str, DataFrame], ResolvedConceptSets, FeaturePlan]:
    """The read stage: typed tables, resolved concept sets, the feature plan, and the criteria's lab results."""
    frames = read_tables(extract)
    resolved = resolve_concept_sets(spark, criteria, extract)
    plan = plan_features(criteria)
    lab_sets = sorted({criteria.labs[r.lab].concept_set for r in plan.labs})
    frames["lab_results"] = lab_results(frames["measurement"], resolved.table(spark, lab_sets), criteria.labs)
    return frames, resolved, plan


def with_visit_site(person: DataFrame, visits: DataFrame, as_of: date) -> DataFrame:
    """A person without a care_site_id takes the care site of their latest visit up to as-of."""
    latest = (visits.where((F.col("visit_start_date") <= F.lit(as_of)) & F.col("care_site_id").isNotNull())
              .groupBy("person_id")
              .agg(F.max(F.struct("visit_start_date", "care_site_id"))["care_site_id"].alias("visit_site")))
    return (person.join(latest, "person_id", "left")
            .withColumn("care_site_id", F.coalesce("care_site_id", "visit_site")).drop("visit_site"))


def build_features(spark: SparkSession, frames: dict[str, DataFrame], criteria: CriteriaFile, plan: FeaturePlan,
                   resolved: ResolvedConceptSets, as_of: date, stage_dir: str) -> dict[str, str]:
    """Write the five feature families as Parquet under stage_dir/features/; returns their paths."""
    paths = {f: f"{stage_dir}/features/{f}" for f in ("demographics", "diagnoses", "procedures", "therapies", "labs")}
    person = with_visit_site(frames["person"], frames["visit_occurrence"], as_of)
    demo = demographics(person, frames["death"], frames["observation_period"], frames["care_site"],
                        frames["location"], as_of)
    with described(spark, "features: demographics"):
        demo.write.parquet(paths["demographics"])
    demo = spark.read.parquet(paths["demographics"])

    def membership(requests) -> DataFrame:
        return resolved.table(spark, sorted({r.concept_set for r in requests}))

    diag = plan.for_family("diagnoses")
    with described(spark, "features: diagnoses"):
        event_features(diagnosis_events(frames["condition_occurrence"], frames["observation"]), membership(diag),
                       diag, as_of).write.parquet(paths["diagnoses"])
    proc = plan.for_family("procedures")
    with described(spark, "features: procedures"):
        event_features(procedure_events(frames["procedure_occurrence"]), membership(proc), proc, as_of
                       ).write.parquet(paths["procedures"])
    ther = plan.for_family("therapies")
    with described(spark, "features: therapies"):
        drug_features(drug_events(frames["drug_exposure"]), membership(ther), ther, as_of
                      ).write.parquet(paths["therapies"])
    with described(spark, "features: labs"):
        lab_features(frames["lab_results"], demo, sorted(plan.labs), sorted(plan.derived), criteria.labs, as_of
                     ).write.parquet(paths["labs"])
    return paths


def feature_frame(spark: SparkSession, paths: dict[str, str]) -> DataFrame:
    """Demographics (every person) left-joined with the other families: the frame criteria are evaluated on.

    Sort-merge joins by hint: the planner sizes a Parquet table by its compressed bytes, so a person-level
    family of a few million rows (structs of dates and arrays) looks small enough to broadcast, then fills
    the driver when built ("Not enough memory to build and broadcast", seen at 1M persons)."""
    wide = spark.read.parquet(paths["demographics"])
    for family in ("diagnoses", "procedures", "therapies", "labs"):
        wide = wide.join(spark.read.parquet(paths[family]).hint("merge"), "person_id", "left")
    return wide


def run(spark: SparkSession, cfg: RunConfig) -> RunResult:
    timer = Timer(spark)
    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    fs = OutputFS(spark, cfg.out)
    target = fs.qualify(cfg.out)
    publish.check_target(fs, target, cfg.overwrite)
    stage_dir = publish.staging_path(target, run_id)
    criteria = cfg.criteria
    gate = None
    try:
        with timer.stage("read"):
            extract = OmopExtract(spark, cfg.omop, cfg.jdbc_schema, cfg.jdbc_properties)
            as_of, as_of_source = resolve_as_of(extract, cfg.as_of)
            frames, resolved, plan = prepare_inputs(spark, extract, criteria)
        with timer.stage("quality"):
            gate = quality_hook.check_and_split(spark, frames, as_of=as_of, criteria=criteria,
                                                fail_on_warnings=cfg.fail_on_quality_warnings)
        fs.mkdirs(stage_dir)
        # rows never used as evidence, with their reason: nothing silently lost
        with timer.stage("quality"), described(spark, "quality: quarantine"):
            gate.quarantined.write.parquet(f"{stage_dir}/quarantine")
            quarantine = quarantine_counts(spark.read.parquet(f"{stage_dir}/quarantine"))
        with timer.stage("features"):
            paths = build_features(spark, gate.frames, criteria, plan, resolved, as_of, stage_dir)
            gate.release()
        with timer.stage("criteria"):
            evaluated_path = f"{stage_dir}/_work/evaluated"
            ev.evaluate(feature_frame(spark, paths), criteria, as_of).write.parquet(evaluated_path)
            evaluated = spark.read.parquet(evaluated_path)
            with described(spark, "criteria: criteria_results"):
                ev.criteria_results(evaluated, criteria).write.parquet(f"{stage_dir}/criteria_results")
        with timer.stage("ranking"), expression_codegen(spark):  # see expression_codegen: 1M, 42 -> 31 s
            with described(spark, "ranking: ranks"):
                ev.ranks(evaluated, criteria).write.parquet(f"{stage_dir}/_work/ranks")
            status = ev.person_status(evaluated, criteria, spark.read.parquet(f"{stage_dir}/_work/ranks"))
            (status.select("cohort", "person_id", "status", "failed", "unknown", "review", "rank", "site",
                           "evidence_date", "reasons")
             .write.parquet(f"{stage_dir}/person_status"))
            status = spark.read.parquet(f"{stage_dir}/person_status")
            with described(spark, "ranking: candidates"):
                candidates = write_candidates(status, criteria, stage_dir, fs)
        with timer.stage("write"):
            persons, counts = ev.outcome_counts(evaluated, criteria)
            with described(spark, "write: funnel"):
                funnel = ev.funnel_counts(evaluated, criteria)
            attrition = ev.attrition_rows(criteria, counts, funnel, persons)
            by_site = [(r["cohort"], r["site"], r["status"], int(r["count"]))
                       for r in status.groupBy("cohort", "site", "status").count().collect()]
            by_status: dict[tuple[str, str], int] = {}
            for cohort, _site, st, n in by_site:
                by_status[(cohort, st)] = by_status.get((cohort, st), 0) + n
            with described(spark, "write: conservation"):
                conservation = check_conservation(status, criteria, persons, attrition, candidates)
            write_counts_csv(fs, stage_dir, attrition, by_site, cfg.min_cell_count)
            fs.delete(f"{stage_dir}/_work")
        manifest = build_manifest(cfg, extract, gate, resolved, as_of, as_of_source, run_id, started,
                                  timer, persons, by_status, conservation)
        manifest["quarantine"] = quarantine
        write_report(fs, stage_dir, criteria, manifest, attrition, by_site, by_status, cfg.min_cell_count)
        publish.write_manifest(fs, stage_dir, manifest)  # last file: its presence marks a complete result
        publish.publish(fs, stage_dir, target, run_id)
    except BaseException:
        if gate is not None:
            gate.release()
        publish.abandon(fs, stage_dir)
        raise
    return RunResult(target, manifest)


def quarantine_counts(quarantined: DataFrame) -> dict[str, dict[str, int]]:
    """{table: {reason: rows}} of the quarantine (a small aggregate)."""
    out: dict[str, dict[str, int]] = {}
    for r in quarantined.groupBy("table", "reason").count().collect():
        out.setdefault(r["table"], {})[r["reason"]] = int(r["count"])
    return {t: dict(sorted(v.items())) for t, v in sorted(out.items())}


def write_candidates(status: DataFrame, criteria: CriteriaFile, stage_dir: str, fs: OutputFS) -> DataFrame:
    """candidates/ (Parquet, all cohorts) and candidates_<cohort>.csv, ordered by rank."""
    cand = (status.where(F.col("rank").isNotNull())
            .select("cohort", "rank", "person_id", "status", "site", F.size("unknown").alias("n_unknown"),
                    "unknown", "review", "evidence_date", "reasons"))
    cand.repartition(1).sortWithinPartitions("cohort", "rank").write.parquet(f"{stage_dir}/candidates")
    cand = status.sparkSession.read.parquet(f"{stage_dir}/candidates")
    for cohort in criteria.cohorts:
        tmp = f"{stage_dir}/_work/csv_{cohort}"
        (cand.where(F.col("cohort") == cohort)
         .select("rank", "person_id", "status", "site", "n_unknown",
                 F.array_join("unknown", ";").alias("unknown"), F.array_join("review", ";").alias("review"),
                 F.col("evidence_date").cast("string").alias("evidence_date"),
                 F.array_join("reasons", " | ").alias("reasons"))
         .repartition(1).sortWithinPartitions("rank")
         .write.option("header", True).option("emptyValue", "").option("lineSep", "\n").csv(tmp))
        part = next(n for n in fs.list(tmp) if n.startswith("part-") and n.endswith(".csv"))
        fs.rename(f"{tmp}/{part}", f"{stage_dir}/candidates_{cohort}.csv")
    return cand


def check_conservation(status: DataFrame, criteria: CriteriaFile, persons: int, attrition: list[dict],
                       candidates: DataFrame) -> dict:
    """Every person once per cohort, statuses partition them, the funnel adds up, each candidate once."""
    problems: list[str] = []
    per = {r["cohort"]: (int(r["n"]), int(r["distinct"]), int(r["ranked"]), int(r["ranked_distinct"]),
                         int(r["bad_status"]))
           for r in status.groupBy("cohort").agg(
               F.count("*").alias("n"), F.countDistinct("person_id").alias("distinct"),
               F.count("rank").alias("ranked"), F.countDistinct("rank").alias("ranked_distinct"),
               F.sum(F.when(~F.col("status").isin(*ev.STATUSES), 1).otherwise(0)).alias("bad_status")).collect()}
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


def build_manifest(cfg: RunConfig, extract: OmopExtract, gate, resolved: ResolvedConceptSets, as_of: date,
                   as_of_source: str, run_id: str, started: datetime, timer: Timer, persons: int,
                   by_status: dict, conservation: dict) -> dict:
    import platform

    import pydantic
    import pyspark

    from jobs import __version__

    versions = {"cohort_finder": __version__, "python": platform.python_version(), "pyspark": pyspark.__version__,
                "pydantic": pydantic.__version__}
    try:
        import great_expectations as gx

        versions["great_expectations"] = gx.__version__
    except Exception:  # pragma: no cover
        pass
    cohorts = {}
    for cohort in cfg.criteria.cohorts:
        cohorts[cohort] = {s: by_status.get((cohort, s), 0) for s in ev.STATUSES}
    return {
        "run_id": run_id,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "as_of_source": as_of_source,
        "inputs": {"omop": _safe_location(cfg.omop), "tables": extract.report.tables,
                   "missing_tables": sorted(set(extract.report.missing_tables)),
                   "empty_tables": sorted(set(extract.report.empty_tables)),
                   "missing_optional_columns": extract.report.missing_optional_columns},
        "criteria": {"path": cfg.criteria_path, "sha256": file_sha256(cfg.criteria_path),
                     "trial": cfg.criteria.trial, "version": cfg.criteria.version,
                     "cohorts": {c: len(s.criteria) for c, s in cfg.criteria.cohorts.items()}},
        "vocabulary": resolved.to_manifest(),
        "versions": versions,
        "rows_read": gate.rows_read,
        "quality": gate.to_manifest(),
        "persons": persons,
        "status_counts": cohorts,
        "conservation": conservation,
        "min_cell_count": cfg.min_cell_count,
        "timings_seconds": dict(timer.stages),
    }


def _safe_location(location: str) -> str:
    """The input's address without credentials: no query/properties, no user-info (user:pw@, Oracle user/pw@)."""
    if location.startswith("jdbc:"):
        location = location.split("?", 1)[0].split(";", 1)[0]
    return re.sub(r"(//|:)[^/@:;?]+[:/][^@/]*@", r"\1", location) if "@" in location else location
