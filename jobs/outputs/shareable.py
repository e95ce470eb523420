"""OUT/shareable/: counts.csv and report_shareable.html, every count suppressed (default threshold 11, or the
run's --min-cell-count) with complementary suppression (jobs/outputs/suppression.py), no person-level rows."""

from __future__ import annotations

from jobs.outputs.fs import OutputFS
from jobs.outputs.registry import SHAREABLE_COUNTS, SHAREABLE_REPORT
from jobs.outputs.report import counts_csv
from jobs.outputs.report_html import render_report
from jobs.outputs.shared_counts import PERSONS, SharedCounts, outcome_key, remaining_key, site_key, status_key
from jobs.rules.evaluation import STATUSES
from schemas.criteria import CriteriaFile

SHAREABLE_DEFAULT_K = 11
COUNTS_COLUMNS = ["table", "cohort", "step", "criterion", "site", "status", "measure", "persons"]


def counts_rows(criteria: CriteriaFile, shared: SharedCounts) -> list[list]:
    """Long form, one published count a row: persons, status totals, the funnel and outcomes, sites."""
    rows: list[list] = [["persons", "", "", "", "", "", "persons", shared.show(PERSONS)]]
    for cohort, spec in criteria.cohorts.items():
        rows += [["status", cohort, "", "", "", s, "persons", shared.show(status_key(cohort, s))] for s in STATUSES]
        for step, cid in enumerate(spec.criteria, start=1):
            rows += [["attrition", cohort, step, cid, "", "", o, shared.show(outcome_key(cid, o))]
                     for o in ("pass", "fail", "unknown", "review")]
            rows += [["attrition", cohort, step, cid, "", "", "remaining", shared.show(remaining_key(cohort, step))],
                     ["attrition", cohort, step, cid, "", "", "remaining_without_unknown",
                      shared.show(remaining_key(cohort, step, True))]]
        rows += [["site", cohort, "", "", s, st, "persons", shared.show(site_key(cohort, s, st))]
                 for s in shared.sites for st in STATUSES]
    return rows


def write_shareable(fs: OutputFS, stage_dir: str, criteria: CriteriaFile, manifest: dict,
                    shared: SharedCounts) -> None:
    fs.mkdirs(f"{stage_dir}/shareable")
    fs.write_text(f"{stage_dir}/{SHAREABLE_COUNTS}", counts_csv([COUNTS_COLUMNS, *counts_rows(criteria, shared)]))
    fs.write_text(f"{stage_dir}/{SHAREABLE_REPORT}", render_report(criteria, manifest, shared, None))
