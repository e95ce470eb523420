"""One trial of a run on the shared feature frame: criteria, ranking, candidates, counts, conservation, the OMOP
cohort table and small-cell suppression, into `OUT/<trial>/`; then, once the manifest exists, that trial's
reports (report.md, report.html, shareable/). jobs/pipeline.py runs this once per trial (jobs/rules/trials.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession

from jobs.config import RunConfig
from jobs.extract.concept_sets import set_users
from jobs.outputs import cohort_table
from jobs.outputs.candidates import write_candidates
from jobs.outputs.conservation import check_conservation
from jobs.outputs.criteria_tables import constant_results, criteria_rows, results_table, write_criteria_table
from jobs.outputs.fs import OutputFS
from jobs.outputs.manifest import trial_entry
from jobs.outputs.registry import REPORT_HTML
from jobs.outputs.report import write_counts_csv, write_report
from jobs.outputs.report_data import ReportData, report_data
from jobs.outputs.report_html import render_report
from jobs.outputs.shareable import SHAREABLE_DEFAULT_K, write_shareable
from jobs.outputs.shared_counts import SharedCounts, cohort_steps, shared_counts
from jobs.rules import evaluation as ev
from jobs.rules.trials import Trial
from jobs.session import described, expression_codegen

STATUS_COLUMNS = ("cohort", "person_id", "status", "failed", "unknown", "review", "rank", "site", "evidence_date",
                  "reasons", "summary")


@dataclass
class Screened:
    """What one trial's screening left for the manifest and reports (counts and aggregates only)."""

    trial: Trial
    folder: str
    persons: int
    by_status: dict[tuple[str, str], int]
    by_site: list[tuple]
    attrition: list[dict]
    conservation: dict
    defs: list[cohort_table.CohortDefinition]
    shared: SharedCounts
    shareable: SharedCounts
    report_facts: ReportData

    def entry(self, cfg: RunConfig) -> dict:
        """This trial's section of the manifest's `trials`."""
        return trial_entry(self.trial, self.by_status, self.conservation, self.shared,
                           cohort_table.to_manifest(self.defs, cfg.results_jdbc, cfg.results_schema))


def screen(spark: SparkSession, timer, fs: OutputFS, features: DataFrame, demographics: DataFrame, trial: Trial,
           folder: str, cfg: RunConfig, as_of: date) -> Screened:
    """One trial on the shared feature frame, written to `folder` (`timer`: the pipeline's stage timer)."""
    criteria = trial.model
    defs = cohort_table.definitions(criteria, trial.source.sha256, cfg.cohort_include_possible)
    with timer.stage("criteria"):
        evaluated_path = f"{folder}/_work/evaluated"
        built = ev.evaluate(features, criteria)
        constants = constant_results(spark, built, criteria)
        with described(spark, f"criteria: {trial.folder}"):
            built.write.parquet(evaluated_path)
        evaluated = spark.read.parquet(evaluated_path)
        with described(spark, f"criteria: {trial.folder} criteria_results"):
            results_table(evaluated, criteria, constants, cfg.full_results).write.parquet(
                f"{folder}/criteria_results")
            write_criteria_table(spark, fs, folder, criteria_rows(criteria, constants))
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
        with described(spark, f"write: {trial.folder} cohort table"):
            cohort_table.write_cohort_tables(status, defs, as_of, folder,
                                             sum(by_status.get((d.cohort, d.status), 0) for d in defs))
        with timer.stage("suppression"):
            steps = cohort_steps(criteria)
            shared = shared_counts(steps, attrition, by_site, persons, cfg.min_cell_count)
            shareable = (shared if cfg.min_cell_count > 1 else
                         shared_counts(steps, attrition, by_site, persons, SHAREABLE_DEFAULT_K))
        write_counts_csv(fs, folder, attrition, by_site, shared)
        with described(spark, f"write: {trial.folder} report aggregates"):
            report_facts = report_data(status, demographics, candidates)
        fs.delete(f"{folder}/_work")
    return Screened(trial, folder, persons, by_status, by_site, attrition, conservation, defs, shared, shareable,
                    report_facts)


def trial_view(manifest: dict, s: Screened) -> dict:
    """The manifest as one trial's reports read it: `criteria` is that trial's entry, the concept-set summary
    keeps that trial's sets, each read by that trial's criteria (the run's warnings stay: they are the run's)."""
    vocab = manifest["vocabulary"]
    users = set_users(s.trial.model)
    sets = {n: {**v, "criteria": users[n]} for n, v in vocab.get("concept_sets", {}).items() if n in users}
    return {**manifest, "criteria": manifest["trials"][s.trial.folder], "vocabulary": {**vocab, "concept_sets": sets}}


def write_trial_reports(fs: OutputFS, manifest: dict, s: Screened) -> None:
    """report.md, report.html and shareable/ of one trial, in its folder."""
    view = trial_view(manifest, s)
    criteria = s.trial.model
    write_report(fs, s.folder, criteria, view, s.attrition, s.by_site, s.shared)
    write_shareable(fs, s.folder, criteria, view, s.shareable)
    fs.write_text(f"{s.folder}/{REPORT_HTML}", render_report(criteria, view, s.shared, s.report_facts))
