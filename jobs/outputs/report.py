"""Human-readable outputs: report.md, attrition.csv and counts_by_site.csv (with small-cell suppression)."""

from __future__ import annotations

import csv
import io

from jobs.extract.concept_sets import SetSummary
from jobs.outputs.fs import OutputFS
from jobs.outputs.shared_counts import SharedCounts, outcome_key, remaining_key, site_key, status_key
from schemas.criteria import CriteriaFile, Criterion, ReviewRule
from schemas.value_rules import MixedRule

ATTRITION_COLUMNS = ["cohort", "step", "criterion", "type", "pass", "fail", "unknown", "review", "remaining",
                     "remaining_without_unknown"]


def suppress(n: int | str, k: int) -> str:
    """Counts between 1 and k-1 are shown as '<k' when suppression is on (k > 0); zero stays zero."""
    if isinstance(n, str) or k <= 0 or n == 0 or n >= k:
        return str(n)
    return f"<{k}"


def counts_csv(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def attrition_cells(r: dict, shared: SharedCounts) -> list[str]:
    """One attrition row as published: outcome counts per criterion, the funnel per cohort and step."""
    outcomes = ["" if r["step"] == 0 else shared.show(outcome_key(r["criterion"], o))
                for o in ("pass", "fail", "unknown", "review")]
    return [*outcomes, shared.show(remaining_key(r["cohort"], r["step"])),
            shared.show(remaining_key(r["cohort"], r["step"], clear=True))]


def counts_csv_texts(attrition: list[dict], by_site: list[tuple], shared: SharedCounts) -> dict[str, str]:
    """attrition.csv and counts_by_site.csv as published (every count through `shared`)."""
    rows = [ATTRITION_COLUMNS] + [[r["cohort"], r["step"], r["criterion"], r["type"], *attrition_cells(r, shared)]
                                  for r in attrition]
    site_rows = [["cohort", "site", "status", "persons"]] + [
        [c, s, st, shared.show(site_key(c, s, st))]
        for c, s, st, _ in sorted(by_site, key=lambda x: (x[0], x[1] or "", x[2]))]
    return {"attrition.csv": counts_csv(rows), "counts_by_site.csv": counts_csv(site_rows)}


def write_counts_csv(fs: OutputFS, stage_dir: str, attrition: list[dict], by_site: list[tuple],
                     shared: SharedCounts) -> None:
    for name, text in counts_csv_texts(attrition, by_site, shared).items():
        fs.write_text(f"{stage_dir}/{name}", text)


def _table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def concept_sets_text(summary: dict[str, SetSummary], k: int) -> str:
    """`cohort-finder concept-sets`: each set, then each member (id, name, how it got in, records, persons);
    members the extract's concept table lacks are marked and listed."""
    lines = []
    for name, s in summary.items():
        lacking = [m.concept_id for m in s.members if not m.in_extract]
        lines.append(f"\n{name}: {len(s.members)} members, {suppress(s.records, k)} records, "
                     f"{suppress(s.persons, k)} persons; read by {', '.join(s.users) or 'no criterion'}")
        for m in s.members:
            mark = "" if m.in_extract else "  [not in the extract's concept table]"
            lines.append(f"  {m.concept_id:>10}  {(m.name or '(no concept row anywhere)')[:60]:<60}  {m.how:<27}"
                         f"  records {suppress(m.records, k):>6}  persons {suppress(m.persons, k):>6}{mark}")
        if lacking:
            lines.append(f"  missing from the extract's concept table: {', '.join(map(str, lacking))}")
    return "\n".join(lines)


def write_report(fs: OutputFS, stage_dir: str, criteria: CriteriaFile, manifest: dict, attrition: list[dict],
                 by_site: list[tuple], shared: SharedCounts) -> None:
    """report.md: counts only (suppressed as asked, complementary), never person-level values."""
    k = shared.published.k
    lines = [f"# {criteria.trial}: feasibility report", "", criteria.title, "",
             f"- Screening (as-of) date: **{manifest['as_of']}** ({manifest['as_of_source']})",
             f"- Persons in the extract: **{shared.show(('persons',))}**",
             f"- Criteria file: `{manifest['criteria']['path']}` version {criteria.version} "
             f"(sha256 {manifest['criteria']['sha256'][:12]}…)",
             f"- Run: {manifest['run_id']}" + (f"; counts below {k} are shown as <{k}, and counts that would let "
                                                 "one be worked out as *" if k > 1 else ""), ""]
    if manifest.get("warnings"):
        lines += ["## Warnings", "", *[f"- **{w}**" for w in manifest["warnings"]], ""]
    lines += ["## Status per cohort", "",
              _table(["cohort", "eligible", "possible", "ineligible"],
                     [[c, *(shared.show(status_key(c, s)) for s in ("eligible", "possible", "ineligible"))]
                      for c in criteria.cohorts]), "",
              "*eligible*: no criterion fails and none is unknown; *possible*: none fails, some are unknown "
              "(missing data); review items never block but must be checked by a person.", ""]
    for cohort, spec in criteria.cohorts.items():
        rows = [[r["step"], r["criterion"], r["type"], *attrition_cells(r, shared)]
                for r in attrition if r["cohort"] == cohort and r["step"] > 0]
        lines += [f"## Attrition: {cohort} ({spec.title})", "",
                  _table(["step", "criterion", "type", "pass", "fail", "unknown", "review", "remaining",
                          "remaining without unknown"], rows), ""]
    lines += ["## Candidates by site", "",
              _table(["site", *[f"{c} eligible" for c in criteria.cohorts],
                      *[f"{c} possible" for c in criteria.cohorts]],
                     [[s, *[shared.show(site_key(c, s, "eligible")) for c in criteria.cohorts],
                       *[shared.show(site_key(c, s, "possible")) for c in criteria.cohorts]] for s in shared.sites]),
              ""]
    inputs = manifest["inputs"]
    lines += ["## Input", "", _table(["table", "rows read"], [[t, suppress(n, k)] for t, n in
                                                              sorted(manifest["rows_read"].items())]), ""]
    if inputs["missing_tables"] or inputs["empty_tables"]:
        lines += [f"- Missing tables (no events of that kind): {', '.join(inputs['missing_tables']) or 'none'}",
                  f"- Empty tables: {', '.join(inputs['empty_tables']) or 'none'}", ""]
    vocab = manifest["vocabulary"]
    if vocab["unresolved_codes"] or vocab["empty_concept_sets"]:
        lines += ["## Vocabulary gaps", "",
                  f"- Codes not found in the extract's vocabulary: {', '.join(vocab['unresolved_codes']) or 'none'}",
                  f"- Concept sets with no concept: {', '.join(vocab['empty_concept_sets']) or 'none'}", ""]
    sets = vocab.get("concept_sets") or {}
    if sets:
        lines += ["## Concept sets", "", "Records and persons in the extract (any date, before the quality gate); "
                  "`cohort-finder concept-sets` lists every member.", "",
                  _table(["concept set", "members", "in the extract's concept table", "records", "persons",
                          "read by"],
                         [[n, s["members"], s["members_in_extract"], suppress(s["records"], k),
                           suppress(s["persons"], k), ", ".join(s["criteria"]) or "-"] for n, s in sets.items()]), ""]
    quality = manifest.get("quality") or {}
    if quality.get("markdown"):
        lines += ["## Data quality", "", quality["markdown"], ""]
    quarantine = manifest.get("quarantine") or {}
    if quarantine:
        lines += ["### Rows not used as evidence (in `quarantine/`)", "",
                  _table(["table", "reason", "rows"],
                         [[t, reason, n] for t, reasons in quarantine.items() for reason, n in reasons.items()]), ""]
    lines += ["## What a person must check", "",
              _table(["criterion", "what the data cannot tell"],
                     [[c.id, _to_check(c)] for c in criteria.criteria
                      if isinstance(c.rule, ReviewRule | MixedRule) or c.review_if]), ""]
    lines += ["## Timings (seconds)", "", _table(["stage", "seconds"], sorted(manifest["timings_seconds"].items())), ""]
    fs.write_text(f"{stage_dir}/report.md", "\n".join(lines))


def _to_check(c: Criterion) -> str:
    """What a person decides for a criterion: a review rule's reason, a mixed item's note, the approximation."""
    if isinstance(c.rule, ReviewRule):
        return c.rule.reason
    parts = [c.rule.review] if isinstance(c.rule, MixedRule) else []
    return "; ".join([*parts, *([c.approximates] if c.approximates else [])])
