"""`cohort-finder whatif`: statuses, funnels and the ranking recomputed from a finished result's stored
per-criterion outcomes, with criteria dropped and/or unknowns read as pass or fail.

What it reads of each person and criterion: the outcome, and the evidence date of inclusions (the ranking's
latest qualifying evidence). Outcomes come from `person_status` (`failed`, `unknown`, `review`; every other
criterion of the cohort passed) and the criteria's order and type from `criteria/`, so they are complete for
every person whatever `criteria_results` holds; dates come from `criteria_results`, which keeps every dated
inclusion row of every person (README "Outputs"), and from `criteria/` for person-independent criteria. A
result written before `criteria/` existed has the full long table and is read from it alone.

DuckDB over the Parquet, no JVM: seconds, not a Spark run. The rules are the job's own (README Semantics):
status from the remaining criteria's fails and unknowns, the funnel in protocol order over the remaining
criteria, ranks by eligible first, fewer unknowns, latest qualifying inclusion evidence, person_id. It reads
person-level outputs and prints exact counts: a tool for the team that holds the result, not for sharing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from jobs.errors import InputError
from jobs.outputs.registry import CRITERIA_TABLE, MANIFEST

STATUSES = ("eligible", "possible", "ineligible")
OUTCOMES = ("pass", "fail", "unknown", "review")


@dataclass
class Scenario:
    status_counts: dict[str, dict[str, int]]  # cohort -> status -> persons
    attrition: list[dict]  # cohort, step, criterion, type, outcome counts, remaining, remaining_without_unknown
    ranks: dict[str, list[tuple[int, int, str]]]  # cohort -> [(rank, person_id, status)] in rank order


FROM_STATUS = """
    CREATE OR REPLACE TEMP TABLE base AS
    SELECT s.cohort, s.person_id, c.criterion, c.criterion_order, c.type,
           CASE WHEN list_contains(s.failed, c.criterion) THEN 'fail'
                WHEN list_contains(s.unknown, c.criterion) THEN 'unknown'
                WHEN list_contains(s.review, c.criterion) THEN 'review' ELSE 'pass' END AS outcome,
           CASE WHEN c.person_independent THEN c.evidence_date ELSE r.evidence_date END AS evidence_date
    FROM read_parquet($status) s JOIN read_parquet($criteria) c ON s.cohort = c.cohort
    LEFT JOIN (SELECT cohort, person_id, criterion, evidence_date FROM read_parquet($results)
               WHERE evidence_date IS NOT NULL) r
      ON r.cohort = s.cohort AND r.person_id = s.person_id AND r.criterion = c.criterion"""
FROM_FULL_TABLE = """
    CREATE OR REPLACE TEMP TABLE base AS
    SELECT cohort, person_id, criterion, criterion_order, type, outcome, evidence_date FROM read_parquet($results)"""


def load_outcomes(con: duckdb.DuckDBPyConnection, root: Path) -> set[str]:
    """Table `base`: every person x cohort x criterion of the trial folder `root` with its outcome and evidence
    date; returns the criterion ids."""
    results = str(root / "criteria_results" / "*.parquet")
    if (root / CRITERIA_TABLE).is_dir():
        con.execute(FROM_STATUS, {"status": str(root / "person_status" / "*.parquet"), "results": results,
                                  "criteria": str(root / CRITERIA_TABLE / "*.parquet")})
        return {r[0] for r in con.execute("SELECT DISTINCT criterion FROM read_parquet(?)",
                                          [str(root / CRITERIA_TABLE / "*.parquet")]).fetchall()}
    con.execute(FROM_FULL_TABLE, {"results": results})
    return {r[0] for r in con.execute("SELECT DISTINCT criterion FROM base").fetchall()}


def scenario(con: duckdb.DuckDBPyConnection, dropped: list[str], unknown_as: str | None) -> Scenario:
    """One scenario over `base` (load_outcomes): the remaining criteria renumbered in protocol order, unknown
    mapped when asked."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE o AS
        SELECT cohort, person_id, criterion, type, evidence_date,
               CASE WHEN outcome = 'unknown' AND $unknown_as IS NOT NULL THEN $unknown_as ELSE outcome END AS outcome,
               dense_rank() OVER (PARTITION BY cohort ORDER BY criterion_order) AS step
        FROM base WHERE NOT list_contains($dropped, criterion)""",
                {"dropped": list(dropped) or [""], "unknown_as": unknown_as})
    con.execute("""
        CREATE OR REPLACE TEMP TABLE p AS
        SELECT cohort, person_id,
               CASE WHEN count_if(outcome = 'fail') > 0 THEN 'ineligible'
                    WHEN count_if(outcome = 'unknown') > 0 THEN 'possible' ELSE 'eligible' END AS status,
               count_if(outcome = 'unknown') AS n_unknown,
               max(CASE WHEN type = 'inclusion' AND outcome IN ('pass', 'review') THEN evidence_date END) AS ev,
               coalesce(min(CASE WHEN outcome = 'fail' THEN step END), 0) AS first_fail,
               coalesce(min(CASE WHEN outcome IN ('fail', 'unknown') THEN step END), 0) AS first_block
        FROM o GROUP BY cohort, person_id""")
    counts: dict[str, dict[str, int]] = {}
    for cohort, status, n in con.execute("SELECT cohort, status, count(*) FROM p GROUP BY ALL").fetchall():
        counts.setdefault(cohort, dict.fromkeys(STATUSES, 0))[status] = int(n)
    attrition = [dict(zip(["cohort", "step", "criterion", "type", *OUTCOMES, "remaining",
                           "remaining_without_unknown"], r, strict=True)) for r in con.execute("""
        WITH steps AS (SELECT cohort, step, any_value(criterion) AS criterion, any_value(type) AS type,
                              count_if(outcome = 'pass') AS n_pass, count_if(outcome = 'fail') AS n_fail,
                              count_if(outcome = 'unknown') AS n_unknown, count_if(outcome = 'review') AS n_review
                       FROM o GROUP BY cohort, step),
             persons AS (SELECT cohort, count(*) AS n FROM p GROUP BY cohort),
             ff AS (SELECT cohort, first_fail AS step, count(*) AS n FROM p WHERE first_fail > 0 GROUP BY ALL),
             fb AS (SELECT cohort, first_block AS step, count(*) AS n FROM p WHERE first_block > 0 GROUP BY ALL)
        SELECT s.cohort, s.step, s.criterion, s.type, s.n_pass, s.n_fail, s.n_unknown, s.n_review,
               persons.n - sum(coalesce(ff.n, 0)) OVER (PARTITION BY s.cohort ORDER BY s.step),
               persons.n - sum(coalesce(fb.n, 0)) OVER (PARTITION BY s.cohort ORDER BY s.step)
        FROM steps s JOIN persons USING (cohort) LEFT JOIN ff USING (cohort, step) LEFT JOIN fb USING (cohort, step)
        ORDER BY s.cohort, s.step""").fetchall()]
    ranks: dict[str, list[tuple[int, int, str]]] = {}
    for cohort, rank, person, status in con.execute("""
        SELECT cohort, row_number() OVER (PARTITION BY cohort ORDER BY CASE WHEN status = 'eligible' THEN 0 ELSE 1
               END, n_unknown, ev DESC NULLS LAST, person_id) AS rank, person_id, status
        FROM p WHERE status <> 'ineligible' ORDER BY cohort, rank""").fetchall():
        ranks.setdefault(cohort, []).append((int(rank), int(person), status))
    return Scenario(counts, attrition, ranks)


def trial_folder(results_dir: str) -> tuple[Path, list[str]]:
    """(the trial's folder, its cohorts) of `results_dir`: a trial folder OUT/<trial>/, or a run's OUT/ that
    screened one trial (a run of several needs the trial's folder named)."""
    root = Path(results_dir)
    run = root if (root / MANIFEST).is_file() else root.parent
    if not (run / MANIFEST).is_file():
        raise InputError(f"--results {results_dir}: not a finished cohort-finder result (no {MANIFEST})")
    trials = json.loads((run / MANIFEST).read_text(encoding="utf-8"))["trials"]
    if run == root:
        if len(trials) != 1:
            raise InputError(f"--results {results_dir}: this run screened several trials; give one trial's "
                             f"folder ({', '.join(str(root / t) for t in trials)})")
        (folder,) = trials
    elif root.name in trials:
        folder = root.name
    else:
        raise InputError(f"--results {results_dir}: not a trial folder of {run} (its trials: {', '.join(trials)})")
    return run / folder, list(trials[folder]["cohorts"])


def whatif(results_dir: str, dropped: list[str], unknown_as: str | None) -> tuple[Scenario, Scenario]:
    """(as run, what if) from a finished result folder (local path)."""
    root, cohorts = trial_folder(results_dir)
    con = duckdb.connect()
    known = load_outcomes(con, root)
    unknown = [c for c in dropped if c not in known]
    if unknown:
        raise InputError(f"--drop {', '.join(unknown)}: no such criterion in {results_dir} "
                         f"(its cohorts: {', '.join(cohorts)})")
    before = scenario(con, [], None)
    after = scenario(con, dropped, unknown_as)
    for sc in (before, after):  # cohorts in the criteria file's order
        sc.status_counts = {c: sc.status_counts[c] for c in cohorts if c in sc.status_counts}
    return before, after


def comparison_text(before: Scenario, after: Scenario, dropped: list[str], unknown_as: str | None) -> str:
    what = "; ".join([*(f"without {c}" for c in dropped), *([f"unknown read as {unknown_as}"] if unknown_as else [])])
    lines = [f"what if: {what or 'as run'}"]
    for cohort, counts in after.status_counts.items():
        old = before.status_counts.get(cohort, {})
        lines.append(f"  {cohort}: " + ", ".join(f"{s} {old.get(s, 0)} -> {counts[s]} ({counts[s] - old.get(s, 0):+d})"
                                               for s in STATUSES))
        for r in (r for r in after.attrition if r["cohort"] == cohort):
            lines.append(f"    {r['step']:>3} {r['criterion']:<14} remaining {r['remaining']:>8}  "
                         f"without unknown {r['remaining_without_unknown']:>8}")
    return "\n".join(lines)


def write_comparison(folder: str, before: Scenario, after: Scenario) -> list[str]:
    """whatif_status.csv (before/after per cohort and status), whatif_attrition.csv, whatif_ranks_<cohort>.csv."""
    import csv

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def write(name: str, rows: list[list]) -> None:
        with (out / name).open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)
        written.append(str(out / name))

    write("whatif_status.csv", [["cohort", "status", "before", "after"]] + [
        [c, s, before.status_counts.get(c, {}).get(s, 0), after.status_counts[c][s]]
        for c in after.status_counts for s in STATUSES])
    cols = ["cohort", "step", "criterion", "type", *OUTCOMES, "remaining", "remaining_without_unknown"]
    write("whatif_attrition.csv", [cols] + [[r[c] for c in cols] for r in after.attrition])
    for cohort, ranked in after.ranks.items():
        old = {p: r for r, p, _ in before.ranks.get(cohort, [])}
        write(f"whatif_ranks_{cohort}.csv", [["rank", "person_id", "status", "rank_as_run"]] +
              [[r, p, s, old.get(p, "")] for r, p, s in ranked])
    return written
