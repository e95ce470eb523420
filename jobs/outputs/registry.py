"""Every output under --out, in one list: the pipeline writes by these names, the conservation check makes
sure each is there before publishing, and the contract test checks a finished result against it.

Two levels: what the run shares (features, quarantine, the manifest) sits at the top of --out; what a trial
decides (statuses, results, candidates, counts, its report) sits in `<trial>/`, one folder per criteria file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from jobs.features.build import FAMILIES


@dataclass(frozen=True)
class Output:
    name: str  # path under --out (run level) or --out/<trial>/ (trial level); `{cohort}` / `{family}` expand
    kind: Literal["parquet", "csv", "json", "markdown", "html"]
    what: str
    shared: bool = False  # counts only (with small-cell suppression): safe to share outside the team
    level: Literal["run", "trial"] = "trial"

    def paths(self, cohorts: list[str]) -> list[str]:
        if "{cohort}" in self.name:
            return [self.name.format(cohort=c) for c in cohorts]
        if "{family}" in self.name:
            return [self.name.format(family=f) for f in FAMILIES]
        return [self.name]


OUTPUTS: tuple[Output, ...] = (
    Output("person_status", "parquet", "one row per person and cohort: status, failed/unknown/review, rank, reasons"),
    Output("criteria_results", "parquet", "outcome and evidence per person, cohort and criterion: the rows that "
           "explain each status (--full-results: every row; person-independent criteria are in criteria/)"),
    Output("criteria", "parquet", "one row per cohort and criterion: type, kind, text; the one outcome and evidence "
           "of each person-independent criterion"),
    Output("criteria.csv", "csv", "the criteria table as CSV"),
    Output("candidates", "parquet", "eligible and possible persons of every cohort, ranked"),
    Output("candidates_{cohort}.csv", "csv", "one cohort's ranked candidates, for coordinators"),
    Output("attrition.csv", "csv", "per cohort, the sequential funnel and each criterion's outcome counts",
           shared=True),
    Output("counts_by_site.csv", "csv", "persons per cohort, site and status", shared=True),
    Output("features/{family}", "parquet", "the person-level feature tables of every trial (schemas/features.py)",
           level="run"),
    Output("quarantine", "parquet", "rows never used as evidence, with their reason", level="run"),
    Output("cohort", "parquet", "OMOP cohort rows: eligible (and with --cohort-include-possible, possible) persons"),
    Output("cohort_definition", "parquet", "OMOP cohort_definition rows, one per cohort and status written"),
    Output("report.md", "markdown", "status counts, funnels, sites, data quality, review items, timings",
           shared=True),
    Output("report.html", "html", "the feasibility report to look at: funnels, criterion impact, data completeness, "
           "sites, top candidates, screening checklist; self-contained (person-level: top of the ranked lists)"),
    Output("shareable/counts.csv", "csv", "every shared count, small-cell + complementary suppression (default 11)",
           shared=True),
    Output("shareable/report_shareable.html", "html", "report.html's counts and charts without person-level rows, "
           "suppressed as shareable/counts.csv", shared=True),
    Output("manifest.json", "json", "inputs, as-of, trials, versions, counts, data-quality results, timings; "
           "written last", level="run"),
)
MANIFEST = "manifest.json"
CRITERIA_TABLE = "criteria"
CRITERIA_CSV = "criteria.csv"
REPORT_HTML = "report.html"
SHAREABLE_COUNTS = "shareable/counts.csv"
SHAREABLE_REPORT = "shareable/report_shareable.html"


def by_name(name: str) -> Output:
    return next(o for o in OUTPUTS if o.name == name)


def expected_paths(trials: dict[str, list[str]]) -> list[str]:
    """Every path a complete result holds, for these trials ({trial folder: cohort names})."""
    run = [p for o in OUTPUTS if o.level == "run" for p in o.paths([])]
    return run + [f"{t}/{p}" for t, cohorts in trials.items() for o in OUTPUTS if o.level == "trial"
                  for p in o.paths(cohorts)]


def is_result_entry(name: str, trial_folders: Iterable[str] = ()) -> bool:
    """Whether a top-level entry of --out is one a run writes (anything else belongs to someone else): a run-level
    output, a trial folder the old result's manifest lists, or a trial-level output at the top (the one-trial
    layout of earlier versions)."""
    if name in set(trial_folders):
        return True
    for o in OUTPUTS:
        top = o.name.split("/", 1)[0]
        if "{cohort}" in top:
            head, tail = top.split("{cohort}", 1)
            if name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail):
                return True
        elif name == top:
            return True
    return False
