"""The job, stage by stage: read -> quality gate -> features -> criteria -> ranking -> outputs -> publish.

`run` writes every output to a staging folder beside `--out` and renames it into place only when all are
written and the conservation checks hold (jobs/outputs/publish.py). `check` is the gate alone. Stage
timings go to the manifest; each stage also names its Spark jobs (Spark UI, event log).

Several trials (`--criteria a --criteria b`) share the read, the gate and the feature build (the union of
their requests, jobs/rules/trials.py); criteria, ranking, counts, cohort table, suppression and reports run
per trial into `<out>/<trial>/` (jobs/screening.py).
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
from jobs.outputs.conservation import check_outputs_written
from jobs.outputs.fs import OutputFS
from jobs.outputs.manifest import build_manifest, shown
from jobs.outputs.report import concept_sets_text
from jobs.quality.gate import gate_inputs, run_gate
from jobs.quality.needs import check_needs, table_rows
from jobs.quality.quarantine import quarantine_counts
from jobs.quality.suites import lab_units, load_suites
from jobs.redaction import redact
from jobs.rules.trials import combine
from jobs.screening import screen, write_trial_reports
from jobs.session import described
from schemas.criteria import CriteriaFile

log = logging.getLogger("cohort_finder")


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
    """Every trial of `cfg` over one read, one gate and one feature build; one atomic publish of --out."""
    timer = Timer(spark)
    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    fs = OutputFS(spark, cfg.out)
    target = fs.qualify(cfg.out)
    publish.check_target(fs, target, cfg.overwrite)
    stage_dir = publish.staging_path(target, run_id)
    trials = combine(cfg.trials)
    vocabulary = trials.vocabulary  # the union of the trials' concept sets, labs and criteria
    if cfg.results_jdbc:  # before hours of work: the results database is reachable and has the schema
        cohort_table.check_results_target(spark, cfg.results_jdbc, cfg.results_schema or "", cfg.jdbc_properties)
    gated = None
    try:
        with timer.stage("read"):
            extract = open_extract(spark, cfg)
            as_of, as_of_source = resolve_as_of(extract, cfg.as_of)
            suites = load_suites(labs=vocabulary.labs)  # the lab catalogue of every trial (combine: no clashes)
            inputs = prepare_inputs(spark, extract, vocabulary, lab_units(suites), plan=trials.plan)
            concept_sets = summarize(spark, inputs.frames, inputs.resolved, vocabulary)
        with timer.stage("quality"):
            gated = gate_inputs(spark, inputs.frames, as_of=as_of, suites=suites,
                                fail_on_warnings=cfg.fail_on_quality_warnings)
            warnings = loud_gaps(vocabulary, extract, gated.rows_read, inputs, cfg.allow_missing_columns)
        fs.mkdirs(stage_dir)
        # rows never used as evidence, with their reason: nothing silently lost
        with timer.stage("quality"), described(spark, "quality: quarantine"):
            gated.quarantined.write.parquet(f"{stage_dir}/quarantine")
            quarantine = quarantine_counts(spark.read.parquet(f"{stage_dir}/quarantine"))
        with timer.stage("features"):
            paths = build_features(FeatureInputs(spark, gated.frames, vocabulary, inputs.plan, inputs.resolved,
                                                 as_of), stage_dir)
            gated.release()
        features, demographics = feature_frame(spark, paths), spark.read.parquet(paths["demographics"])
        screened = [screen(spark, timer, fs, features, demographics, t, f"{stage_dir}/{t.folder}", cfg, as_of)
                    for t in trials.trials]
        first = screened[0]  # every trial screens the same persons
        manifest = build_manifest(cfg, read=extract.report, gate=gated, resolved=inputs.resolved, as_of=as_of,
                                  as_of_source=as_of_source, run_id=run_id, started=started, timings=timer.stages,
                                  persons=shown(first.persons, first.shared), quarantine=quarantine,
                                  trials={s.trial.folder: s.entry(cfg) for s in screened}, warnings=warnings,
                                  concept_sets=concept_sets)
        for s in screened:
            write_trial_reports(fs, manifest, s)
        check_outputs_written(fs, stage_dir, trials.folders())
        publish.write_manifest(fs, stage_dir, manifest)  # last file: its presence marks a complete result
        publish.publish(fs, stage_dir, target, run_id, overwrite=cfg.overwrite)
    except BaseException:
        if gated is not None:
            gated.release()
        publish.abandon(fs, stage_dir)
        raise
    rows = None
    if cfg.results_jdbc:  # the published result is the record; the database gets a copy of its cohort rows
        with timer.stage("results"):  # each trial's rows (its own definition ids), one transaction per trial
            rows = 0
            for s in screened:
                ids = [d.cohort_definition_id for d in cohort_table.definitions(s.trial.model, "", True)]
                rows += cohort_table.write_results_jdbc(
                    spark, cfg.results_jdbc, cfg.results_schema or "", cfg.jdbc_properties,
                    spark.read.parquet(f"{target}/{s.trial.folder}/{cohort_table.COHORT}"), s.defs, ids, as_of,
                    run_id)
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
    """`cohort-finder concept-sets`: every concept set's members, how each got in, and its extract counts (every
    trial given; a set two trials define differently shows as <trial>__<name>)."""
    extract = open_extract(spark, cfg)
    trials = combine(cfg.trials)
    criteria = trials.vocabulary
    inputs = prepare_inputs(spark, extract, criteria, lab_units(load_suites(labs=criteria.labs)), plan=trials.plan)
    summary = summarize(spark, inputs.frames, inputs.resolved, criteria)
    head = [f"extract: {redact(cfg.omop)}; criteria: {', '.join(t.source.path for t in trials.trials)}"]
    head += [f"  warning  {w}" for w in empty_set_warnings(inputs.resolved, criteria)]
    head += [f"  note  code not found in any vocabulary: {c}" for c in inputs.resolved.unresolved_codes]
    return "\n".join(head + [concept_sets_text(summary, cfg.min_cell_count)])


def check(spark: SparkSession, cfg: RunConfig) -> tuple[str, bool]:
    """`cohort-finder check`: the read stage and the gate alone; returns the summary text and whether it
    passed (no error-severity expectation failed)."""
    extract = open_extract(spark, cfg)
    as_of, source = resolve_as_of(extract, cfg.as_of)
    trials = combine(cfg.trials)
    suites = load_suites(labs=trials.vocabulary.labs)
    inputs = prepare_inputs(spark, extract, trials.vocabulary, lab_units(suites), plan=trials.plan)
    frames = dict(inputs.frames)
    labs = frames.pop(LAB_RESULTS)
    gate = run_gate(spark, frames, as_of=as_of, suites=suites, lab_results=labs)
    warnings = loud_gaps(trials.vocabulary, extract, table_rows(gate), inputs, cfg.allow_missing_columns)
    lines = [f"extract: {redact(cfg.omop)}; as-of {as_of} ({source})"] + [f"  WARNING  {w}" for w in warnings]
    lines.append(gate.summary_text())
    missing = sorted(set(extract.report.missing_tables))
    if missing:
        lines.append(f"  note  tables not found (no events of that kind): {', '.join(missing)}")
    return "\n".join(lines), not gate.errors()
