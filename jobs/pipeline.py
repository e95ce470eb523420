"""The job, stage by stage: read -> quality gate -> features -> criteria -> ranking -> outputs -> publish.

Several trials (`--criteria a --criteria b`) share the read, the gate and the feature build (the union of
their requests, jobs/rules/trials.py); criteria, ranking and counts run per trial into `<out>/<trial>/`.

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

from pyspark.sql import DataFrame, SparkSession

from jobs.config import RunConfig
from jobs.extract.inputs import LAB_RESULTS, prepare_inputs, resolve_as_of
from jobs.extract.reader import OmopExtract
from jobs.features.build import FeatureInputs, build_features, feature_frame
from jobs.outputs import publish
from jobs.outputs.candidates import write_candidates
from jobs.outputs.conservation import check_conservation, check_outputs_written
from jobs.outputs.fs import OutputFS
from jobs.outputs.manifest import build_manifest, trial_entry
from jobs.outputs.report import write_counts_csv, write_report
from jobs.quality.gate import gate_inputs, run_gate
from jobs.quality.quarantine import quarantine_counts
from jobs.quality.suites import lab_units, load_suites
from jobs.redaction import redact
from jobs.rules import evaluation as ev
from jobs.rules.trials import Trial, combine
from jobs.session import described, expression_codegen

log = logging.getLogger("cohort_finder")
STATUS_COLUMNS = ("cohort", "person_id", "status", "failed", "unknown", "review", "rank", "site", "evidence_date",
                  "reasons")


@dataclass
class RunResult:
    out: str
    manifest: dict


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
    trials = combine(cfg.trials)
    fs = OutputFS(spark, cfg.out)
    target = fs.qualify(cfg.out)
    publish.check_target(fs, target, cfg.overwrite)
    stage_dir = publish.staging_path(target, run_id)
    gated = None
    try:
        with timer.stage("read"):
            extract = OmopExtract(spark, cfg.omop, cfg.jdbc_schema, cfg.jdbc_properties)
            as_of, as_of_source = resolve_as_of(extract, cfg.as_of)
            suites = load_suites()
            inputs = prepare_inputs(spark, extract, trials.vocabulary, lab_units(suites), plan=trials.plan)
        with timer.stage("quality"):
            gated = gate_inputs(spark, inputs.frames, as_of=as_of, suites=suites,
                                fail_on_warnings=cfg.fail_on_quality_warnings)
        fs.mkdirs(stage_dir)
        # rows never used as evidence, with their reason: nothing silently lost
        with timer.stage("quality"), described(spark, "quality: quarantine"):
            gated.quarantined.write.parquet(f"{stage_dir}/quarantine")
            quarantine = quarantine_counts(spark.read.parquet(f"{stage_dir}/quarantine"))
        with timer.stage("features"):
            paths = build_features(FeatureInputs(spark, gated.frames, trials.vocabulary, inputs.plan,
                                                 inputs.resolved, as_of), stage_dir)
            gated.release()
        screened = [screen(spark, timer, fs, feature_frame(spark, paths), t, f"{stage_dir}/{t.folder}", cfg)
                    for t in trials.trials]
        persons = screened[0].persons
        manifest = build_manifest(cfg, read=extract.report, gate=gated, resolved=inputs.resolved, as_of=as_of,
                                  as_of_source=as_of_source, run_id=run_id, started=started, timings=timer.stages,
                                  persons=persons, quarantine=quarantine,
                                  trials={s.trial.folder: trial_entry(s.trial, s.by_status, s.conservation)
                                          for s in screened})
        for s in screened:
            view = {**manifest, "criteria": manifest["trials"][s.trial.folder]}  # the report of one trial
            write_report(fs, s.folder, s.trial.model, view, s.attrition, s.by_site, s.by_status,
                         cfg.min_cell_count)
        check_outputs_written(fs, stage_dir, trials.folders())
        publish.write_manifest(fs, stage_dir, manifest)  # last file: its presence marks a complete result
        publish.publish(fs, stage_dir, target, run_id)
    except BaseException:
        if gated is not None:
            gated.release()
        publish.abandon(fs, stage_dir)
        raise
    return RunResult(target, manifest)


@dataclass
class Screened:
    """What one trial's screening left for the manifest and report (counts only)."""

    trial: Trial
    folder: str
    persons: int
    by_status: dict[tuple[str, str], int]
    by_site: list[tuple]
    attrition: list[dict]
    conservation: dict


def screen(spark: SparkSession, timer: Timer, fs: OutputFS, features: DataFrame, trial: Trial, folder: str,
           cfg: RunConfig) -> Screened:
    """One trial on the shared feature frame: criteria, ranking, counts and conservation, written to `folder`."""
    criteria = trial.model
    with timer.stage("criteria"):
        evaluated_path = f"{folder}/_work/evaluated"
        with described(spark, f"criteria: {trial.folder}"):
            ev.evaluate(features, criteria).write.parquet(evaluated_path)
        evaluated = spark.read.parquet(evaluated_path)
        with described(spark, f"criteria: {trial.folder} criteria_results"):
            ev.criteria_results(evaluated, criteria).write.parquet(f"{folder}/criteria_results")
    with timer.stage("ranking"), expression_codegen(spark):
        with described(spark, f"ranking: {trial.folder} ranks"):
            ev.ranks(evaluated, criteria).write.parquet(f"{folder}/_work/ranks")
        status = ev.person_status(evaluated, criteria, spark.read.parquet(f"{folder}/_work/ranks"))
        status.select(*STATUS_COLUMNS).write.parquet(f"{folder}/person_status")
        status = spark.read.parquet(f"{folder}/person_status")
        with described(spark, f"ranking: {trial.folder} candidates"):
            candidates = write_candidates(status, criteria, folder, fs)
    with timer.stage("write"):
        persons, counts = ev.outcome_counts(evaluated, criteria)
        with described(spark, f"write: {trial.folder} funnel"):
            funnel = ev.funnel_counts(evaluated, criteria)
        attrition = ev.attrition_rows(criteria, counts, funnel, persons)
        by_site = [(r["cohort"], r["site"], r["status"], int(r["count"]))
                   for r in status.groupBy("cohort", "site", "status").count().collect()]
        by_status: dict[tuple[str, str], int] = {}
        for cohort, _site, st, n in by_site:
            by_status[(cohort, st)] = by_status.get((cohort, st), 0) + n
        with described(spark, f"write: {trial.folder} conservation"):
            conservation = check_conservation(status, criteria, persons, attrition, candidates)
        write_counts_csv(fs, folder, attrition, by_site, cfg.min_cell_count)
        fs.delete(f"{folder}/_work")
    return Screened(trial, folder, persons, by_status, by_site, attrition, conservation)


def check(spark: SparkSession, cfg: RunConfig) -> tuple[str, bool]:
    """`cohort-finder check`: the read stage and the gate alone; returns the summary text and whether it
    passed (no error-severity expectation failed)."""
    extract = OmopExtract(spark, cfg.omop, cfg.jdbc_schema, cfg.jdbc_properties)
    as_of, source = resolve_as_of(extract, cfg.as_of)
    suites = load_suites()
    trials = combine(cfg.trials)
    inputs = prepare_inputs(spark, extract, trials.vocabulary, lab_units(suites), plan=trials.plan)
    frames = dict(inputs.frames)
    labs = frames.pop(LAB_RESULTS)
    gate = run_gate(spark, frames, as_of=as_of, suites=suites, lab_results=labs)
    lines = [f"extract: {redact(cfg.omop)}; as-of {as_of} ({source})", gate.summary_text()]
    missing = sorted(set(extract.report.missing_tables))
    if missing:
        lines.append(f"  note  tables not found (no events of that kind): {', '.join(missing)}")
    return "\n".join(lines), not gate.errors()
