"""Every count a run shares, as one linear system for jobs/outputs/suppression.py, and its published form.

One system for all shared outputs (attrition.csv, counts_by_site.csv, the status totals of the report, the
console summary and the manifest, shareable/): a cell suppressed in one and shown in another would undo the
suppression. The relations are the ones a reader can rely on: each criterion's outcomes add up to the persons
(one cell per criterion and outcome: a criterion shared by cohorts has the same counts in each), the funnel
only goes down and each step's drop is at most that criterion's fails (fails + unknowns without unknown),
the last step equals eligible (+ possible), statuses add up to the persons, sites add up to the status
totals, and a site holds the same persons in every cohort.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.outputs.suppression import Published, System, protect
from jobs.rules.evaluation import STATUSES
from schemas.criteria import CriteriaFile

OUTCOME_NAMES = ("pass", "fail", "unknown", "review")
PERSONS = ("persons",)


def outcome_key(cid: str, outcome: str) -> tuple:
    return ("outcome", cid, outcome)


def remaining_key(cohort: str, step: int, clear: bool = False) -> tuple:
    return PERSONS if step == 0 else ("clear" if clear else "remaining", cohort, step)


def status_key(cohort: str, status: str) -> tuple:
    return ("status", cohort, status)


def site_key(cohort: str, site: str | None, status: str) -> tuple:
    return ("site", cohort, site or "", status)


@dataclass(frozen=True)
class SharedCounts:
    """The shared counts of a run and how each is published (suppressed or not)."""

    published: Published
    cohorts: tuple[str, ...]
    steps: dict[str, tuple[str, ...]]  # cohort -> criterion ids in protocol order
    sites: tuple[str, ...]

    def show(self, key: tuple) -> str:
        return self.published.show(key)

    def visible(self, key: tuple) -> int | None:
        return self.published.visible(key)

    def status_counts(self) -> dict[str, dict[str, str]]:
        return {c: {s: self.show(status_key(c, s)) for s in STATUSES} for c in self.cohorts}


def cohort_steps(criteria: CriteriaFile) -> dict[str, list[str]]:
    return {c: list(spec.criteria) for c, spec in criteria.cohorts.items()}


def build_system(steps: dict[str, list[str]], attrition: list[dict], by_site: list[tuple], persons: int) -> System:
    """attrition: rows of jobs.rules.evaluation.attrition_rows; by_site: (cohort, site, status, persons)."""
    system = System()
    system.cell(PERSONS, persons)
    for row in attrition:
        if row["step"] == 0:
            continue
        for o in OUTCOME_NAMES:
            system.cell(outcome_key(row["criterion"], o), row[o])
        system.cell(remaining_key(row["cohort"], row["step"]), row["remaining"])
        system.cell(remaining_key(row["cohort"], row["step"], clear=True), row["remaining_without_unknown"])
    for cid in {c for ids in steps.values() for c in ids}:
        system.equal([outcome_key(cid, o) for o in OUTCOME_NAMES], [PERSONS])
    totals: dict[tuple, int] = {}
    for cohort, _site, status, n in by_site:
        totals[status_key(cohort, status)] = totals.get(status_key(cohort, status), 0) + n
    sites = sorted({s or "" for _, s, _, _ in by_site})
    grid = {(c, s or "", st): n for c, s, st, n in by_site}
    for cohort, ids in steps.items():
        for st in STATUSES:
            system.cell(status_key(cohort, st), totals.get(status_key(cohort, st), 0))
            for s in sites:
                system.cell(site_key(cohort, s, st), grid.get((cohort, s, st), 0))
            system.equal([site_key(cohort, s, st) for s in sites], [status_key(cohort, st)])
        system.equal([status_key(cohort, st) for st in STATUSES], [PERSONS])
        _funnel_relations(system, cohort, ids)
    cohorts = list(steps)
    for other in cohorts[1:]:
        for s in sites:
            system.equal([site_key(cohorts[0], s, st) for st in STATUSES], [site_key(other, s, st) for st in STATUSES])
    return system


def _funnel_relations(system: System, cohort: str, ids: list[str]) -> None:
    last = len(ids)
    for step, cid in enumerate(ids, start=1):
        rem, prev = remaining_key(cohort, step), remaining_key(cohort, step - 1)
        clear, prev_clear = remaining_key(cohort, step, True), remaining_key(cohort, step - 1, True)
        fail, unknown = outcome_key(cid, "fail"), outcome_key(cid, "unknown")
        system.at_most([rem], [prev])
        system.at_most([clear], [prev_clear])
        system.at_most([clear], [rem])
        system.at_most([prev], [rem, fail])  # those who leave at this step fail it
        system.at_most([prev_clear], [clear, fail, unknown])
        # those still in have not failed this step (nor been unknown on it); earlier steps follow by the chain
        system.at_most([rem], [outcome_key(cid, o) for o in ("pass", "unknown", "review")])
        system.at_most([clear], [outcome_key(cid, o) for o in ("pass", "review")])
    system.equal([remaining_key(cohort, last, True)], [status_key(cohort, "eligible")])
    system.equal([remaining_key(cohort, last)], [status_key(cohort, "eligible"), status_key(cohort, "possible")])


def shared_counts(steps: dict[str, list[str]], attrition: list[dict], by_site: list[tuple], persons: int,
                  k: int) -> SharedCounts:
    """Suppress (k > 1) or publish (k <= 1) every shared count of a run, consistently across outputs."""
    system = build_system(steps, attrition, by_site, persons)
    published = protect(system, k, keep=frozenset({PERSONS}))  # the persons total stays readable
    return SharedCounts(published, tuple(steps), {c: tuple(ids) for c, ids in steps.items()},
                        tuple(sorted({s or "" for _, s, _, _ in by_site})))
