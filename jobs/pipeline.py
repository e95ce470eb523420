"""The job, stage by stage: read -> quality gate -> features -> criteria -> ranking -> outputs -> publish.

`run` writes every output to a staging folder beside `--out` and renames it into place only when all are
written and the conservation checks hold (jobs/outputs/publish.py). `check` is the gate alone. Stage
timings go to the manifest; each stage also names its Spark jobs (Spark UI, event log).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from jobs.config import RunConfig
from jobs.extract.concept_sets import empty_set_warnings, summarize
from jobs.extract.inputs import LAB_RESULTS, Inputs, prepare_inputs, resolve_as_of
from jobs.extract.reader import OmopExtract
from jobs.features.build import FeatureInputs, build_features, feature_frame
from jobs.outputs import cohort_table, publish
from jobs.outputs.candidates import write_candidates
from jobs.outputs.conservation import check_conservation, check_outputs_written
from jobs.outputs.fs import OutputFS
from jobs.outputs.manifest import build_manifest
from jobs.outputs.registry import REPORT_HTML
from jobs.outputs.report import concept_sets_text, write_counts_csv, write_report
from jobs.outputs.report_data import report_data
from jobs.outputs.report_html import render_report
from jobs.outputs.shareable import SHAREABLE_DEFAULT_K, write_shareable
from jobs.outputs.shared_counts import cohort_steps, shared_counts
from jobs.quality.gate import gate_inputs, run_gate
from jobs.quality.needs import check_needs, table_rows
from jobs.quality.quarantine import quarantine_counts
from jobs.quality.suites import lab_units, load_suites
from jobs.redaction import redact
from jobs.rules import evaluation as ev
from jobs.session import described, expression_codegen
from schemas.criteria import CriteriaFile

log = logging.getLogger("cohort_finder")
STATUS_COLUMNS = ("cohort", "person_id", "status", "failed", "unknown", "review", "rank", "site", "evidence_date",
                  "reasons", "summary")


@dataclass
class RunResult:
    out: str
    manifest: dict
    results_rows: int | None = None  # cohort rows inserted into --results-jdbc


class Timer:
    """Wall seconds per pipeline stage (for the manifest); the stage also names its Spark jobs."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        log.info("stage %s ...", name)
        try:
            with described(self.spark, name):
                yield
        finally:
            self.stages[name] = round(self.stages.get(name, 0.0) + time.perf_counter() - t0, 3)


def run(spark: SparkSession, cfg: RunConfig) -> RunResult:
    timer = Timer(spark)
    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    fs = OutputFS(spark, cfg.out)
    target = fs.qualify(cfg.out)
    publish.check_target(fs, target, cfg.overwrite)
    stage_dir = publish.staging_path(target, run_id)
    criteria = cfg.criteria.model
    defs = cohort_table.definitions(criteria, cfg.criteria.sha256, cfg.cohort_include_possible)
    if cfg.results_jdbc:  # before hours of work: the results database is reachable and has the schema
        cohort_table.check_results_target(spark, cfg.results_jdbc, cfg.results_schema or "", cfg.jdbc_properties)
    gated = None
    try:
        with timer.stage("read"):
            extract = open_extract(spark, cfg)
            as_of, as_of_source = resolve_as_of(extract, cfg.as_of)
            suites = load_suites(labs=criteria.labs)
            inputs = prepare_inputs(spark, extract, criteria, lab_units(suites))
            concept_sets = summarize(spark, inputs.frames, inputs.resolved, criteria)
        with timer.stage("quality"):
            gated = gate_inputs(spark, inputs.frames, as_of=as_of, suites=suites,
                                fail_on_warnings=cfg.fail_on_quality_warnings)
            warnings = loud_gaps(criteria, extract, gated.rows_read, inputs, cfg.allow_missing_columns)
        fs.mkdirs(stage_dir)
        # rows never used as evidence, with their reason: nothing silently lost
        with timer.stage("quality"), described(spark, "quality: quarantine"):
            gated.quarantined.write.parquet(f"{stage_dir}/quarantine")
            quarantine = quarantine_counts(spark.read.parquet(f"{stage_dir}/quarantine"))
        with timer.stage("features"):
            paths = build_features(FeatureInputs(spark, gated.frames, criteria, inputs.plan, inputs.resolved, as_of),
                                   stage_dir)
            gated.release()
        with timer.stage("criteria"):
            evaluated_path = f"{stage_dir}/_work/evaluated"
            ev.evaluate(feature_frame(spark, paths), criteria).write.parquet(evaluated_path)
            evaluated = spark.read.parquet(evaluated_path)
            with described(spark, "criteria: criteria_results"):
                ev.criteria_results(evaluated, criteria).write.parquet(f"{stage_dir}/criteria_results")
        with timer.stage("ranking"), expression_codegen(spark):
            with described(spark, "ranking: ranks"):
                ev.ranks(evaluated, criteria).write.parquet(f"{stage_dir}/_work/ranks")
            status = ev.person_status(evaluated, criteria, spark.read.parquet(f"{stage_dir}/_work/ranks"))
            status.select(*STATUS_COLUMNS).write.parquet(f"{stage_dir}/person_status")
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
            with described(spark, "write: cohort table"):
                cohort_table.write_cohort_tables(status, defs, as_of, stage_dir,
                                                 sum(by_status.get((d.cohort, d.status), 0) for d in defs))
            with timer.stage("suppression"):
                steps = cohort_steps(criteria)
                shared = shared_counts(steps, attrition, by_site, persons, cfg.min_cell_count)
                shareable = (shared if cfg.min_cell_count > 1 else
                             shared_counts(steps, attrition, by_site, persons, SHAREABLE_DEFAULT_K))
            write_counts_csv(fs, stage_dir, attrition, by_site, shared)
            with described(spark, "write: report aggregates"):
                report_facts = report_data(status, spark.read.parquet(paths["demographics"]), candidates)
            fs.delete(f"{stage_dir}/_work")
        manifest = build_manifest(cfg, read=extract.report, gate=gated, resolved=inputs.resolved, as_of=as_of,
                                  as_of_source=as_of_source, run_id=run_id, started=started, timings=timer.stages,
                                  persons=persons, by_status=by_status, conservation=conservation,
                                  quarantine=quarantine, shared=shared, warnings=warnings,
                                  concept_sets=concept_sets)
        manifest["cohort_table"] = cohort_table.to_manifest(defs, cfg.results_jdbc, cfg.results_schema)
        write_report(fs, stage_dir, criteria, manifest, attrition, by_site, shared)
        write_shareable(fs, stage_dir, criteria, manifest, shareable)
        fs.write_text(f"{stage_dir}/{REPORT_HTML}", render_report(criteria, manifest, shared, report_facts))
        check_outputs_written(fs, stage_dir, list(criteria.cohorts))
        publish.write_manifest(fs, stage_dir, manifest)  # last file: its presence marks a complete result
        publish.publish(fs, stage_dir, target, run_id, overwrite=cfg.overwrite)
    except BaseException:
        if gated is not None:
            gated.release()
        publish.abandon(fs, stage_dir)
        raise
    rows = None
    if cfg.results_jdbc:  # the published result is the record; the database gets a copy of its cohort rows
        with timer.stage("results"):
            ids = [d.cohort_definition_id for d in cohort_table.definitions(criteria, "", True)]
            rows = cohort_table.write_results_jdbc(
                spark, cfg.results_jdbc, cfg.results_schema or "", cfg.jdbc_properties,
                spark.read.parquet(f"{target}/{cohort_table.COHORT}"), defs, ids, as_of, run_id)
    return RunResult(target, manifest, rows)


def open_extract(spark: SparkSession, cfg: RunConfig) -> OmopExtract:
    return OmopExtract(spark, cfg.omop, cfg.jdbc_schema, cfg.jdbc_properties, vocab_schema=cfg.vocab_schema,
                       partitions=cfg.jdbc_partitions)


def loud_gaps(criteria: CriteriaFile, extract: OmopExtract, rows: dict[str, int], inputs: Inputs,
              allow_missing: bool) -> list[str]:
    """Data the criteria read that the extract lacks (an error unless allowed; `rows`: the gate's counts) and
    empty concept sets: each a warning line for the console (logged now), the manifest and the report's top."""
    warnings = (check_needs(criteria, extract.report, rows, allow_missing)
                + empty_set_warnings(inputs.resolved, criteria))
    for line in warnings:
        log.warning("%s", line)
    return warnings


def concept_sets(spark: SparkSession, cfg: RunConfig) -> str:
    """`cohort-finder concept-sets`: every concept set's members, how each got in, and its extract counts."""
    extract = open_extract(spark, cfg)
    criteria = cfg.criteria.model
    inputs = prepare_inputs(spark, extract, criteria, lab_units(load_suites()))
    summary = summarize(spark, inputs.frames, inputs.resolved, criteria)
    head = [f"extract: {redact(cfg.omop)}; criteria: {cfg.criteria.path}"]
    head += [f"  warning  {w}" for w in empty_set_warnings(inputs.resolved, criteria)]
    head += [f"  note  code not found in any vocabulary: {c}" for c in inputs.resolved.unresolved_codes]
    return "\n".join(head + [concept_sets_text(summary, cfg.min_cell_count)])


def check(spark: SparkSession, cfg: RunConfig) -> tuple[str, bool]:
    """`cohort-finder check`: the read stage and the gate alone; returns the summary text and whether it
    passed (no error-severity expectation failed)."""
    extract = open_extract(spark, cfg)
    as_of, source = resolve_as_of(extract, cfg.as_of)
    suites = load_suites(labs=cfg.criteria.model.labs)
    inputs = prepare_inputs(spark, extract, cfg.criteria.model, lab_units(suites))
    frames = dict(inputs.frames)
    labs = frames.pop(LAB_RESULTS)
    gate = run_gate(spark, frames, as_of=as_of, suites=suites, lab_results=labs)
    warnings = loud_gaps(cfg.criteria.model, extract, table_rows(gate), inputs, cfg.allow_missing_columns)
    lines = [f"extract: {redact(cfg.omop)}; as-of {as_of} ({source})"] + [f"  WARNING  {w}" for w in warnings]
    lines.append(gate.summary_text())
    missing = sorted(set(extract.report.missing_tables))
    if missing:
        lines.append(f"  note  tables not found (no events of that kind): {', '.join(missing)}")
    return "\n".join(lines), not gate.errors()
