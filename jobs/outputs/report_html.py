"""report.html and shareable/report_shareable.html: one Jinja2 template (jobs/outputs/templates/), charts from
jobs/outputs/charts.py inlined as SVG, CSS inline: one file that opens from a USB stick, no network fetch.

Every count comes through SharedCounts (suppressed when a threshold is set); a percentage is shown only when
its numerator and denominator are both published, so no percentage reveals a hidden cell. The shareable
variant leaves out every table not in the suppressed linear system (person-level rows, criterion impact, data
completeness, age/sex make-up)."""

from __future__ import annotations

import jinja2

from jobs.outputs import charts
from jobs.outputs.report_data import AGE_BANDS, ReportData
from jobs.outputs.shared_counts import PERSONS, SharedCounts, outcome_key, remaining_key, site_key, status_key
from jobs.rules.evaluation import STATUSES, protocol_wide_review
from schemas.criteria import CriteriaFile, Criterion, ReviewRule
from schemas.value_rules import MixedRule

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("jobs.outputs", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)


def percent(part: int | None, whole: int | None) -> str:
    if part is None or whole is None or whole == 0:
        return ""
    return f"{100 * part / whole:.1f}%"


def _glance(criteria: CriteriaFile, manifest: dict, shared: SharedCounts) -> list[tuple[str, str]]:
    quality = manifest.get("quality") or {}
    status = (f"passed: {quality.get('evaluated', 0)} checks, {quality.get('warnings', 0)} warning(s), "
              f"{quality.get('errors', 0)} error(s)")
    return [("Trial", f"{criteria.trial}: {criteria.title}"),
            ("Cohorts", ", ".join(f"{c} ({s.title})" for c, s in criteria.cohorts.items())),
            ("Screening (as-of) date", f"{manifest['as_of']} ({manifest['as_of_source']})"),
            ("Extract", str(manifest["inputs"]["omop"])),
            ("Persons read", shared.show(PERSONS)),
            ("Data quality", status),
            ("Criteria file", f"{manifest['criteria']['path']} v{criteria.version} "
                              f"(sha256 {manifest['criteria']['sha256'][:12]})"),
            ("Run", f"{manifest['run_id']}; {round(sum(manifest['timings_seconds'].values()), 1)} s")]


def _check_item(criterion: Criterion) -> dict:
    if isinstance(criterion.rule, ReviewRule):
        return {"criterion": criterion.id, "type": criterion.type, "text": criterion.rule.reason}
    note = criterion.rule.review if isinstance(criterion.rule, MixedRule) else criterion.approximates
    return {"criterion": criterion.id, "type": criterion.type,
            "text": f"no record found in the data; confirm: {note}"}


def _cohort(criteria: CriteriaFile, cohort: str, shared: SharedCounts, data: ReportData | None) -> dict:
    spec = criteria.cohorts[cohort]
    ids = list(spec.criteria)
    persons = shared.visible(PERSONS)
    steps = []
    for step, cid in enumerate(ids, start=1):
        rem, clear = remaining_key(cohort, step), remaining_key(cohort, step, True)
        steps.append({"step": step, "criterion": cid, "type": criteria.criterion(cid).type,
                      **{o: shared.show(outcome_key(cid, o)) for o in ("pass", "fail", "unknown", "review")},
                      "remaining": shared.show(rem), "clear": shared.show(clear),
                      "remaining_pct": percent(shared.visible(rem), persons)})
    totals = {s: shared.show(status_key(cohort, s)) for s in STATUSES}
    sites = [{"site": s or "(no site)", "eligible": shared.show(site_key(cohort, s, "eligible")),
              "possible": shared.show(site_key(cohort, s, "possible"))} for s in shared.sites]
    out = {"name": cohort, "title": spec.title, "totals": totals, "steps": steps, "sites": sites,
           "funnel_svg": charts.funnel([f"{s['step']} {s['criterion']}" for s in steps],
                                       [shared.visible(remaining_key(cohort, i)) for i in range(1, len(ids) + 1)],
                                       [shared.visible(remaining_key(cohort, i, True))
                                        for i in range(1, len(ids) + 1)],
                                       [s["remaining"] for s in steps], [s["clear"] for s in steps]),
           "sites_svg": charts.site_bars(list(shared.sites),
                                         [shared.visible(site_key(cohort, s, "eligible")) for s in shared.sites],
                                         [shared.visible(site_key(cohort, s, "possible")) for s in shared.sites])
           if shared.sites else "",
           "checklist": [_check_item(criteria.criterion(cid)) for cid in ids
                         if protocol_wide_review(criteria.criterion(cid))]}
    if data is not None:
        not_failing = [shared.visible(status_key(cohort, "eligible")), shared.visible(status_key(cohort, "possible"))]
        denominator = None if None in not_failing else sum(not_failing)
        out["impact"] = [{"criterion": s["criterion"], "type": s["type"], "fail": s["fail"], "unknown": s["unknown"],
                          "only_fail": data.only_fail.get((cohort, s["criterion"]), 0)} for s in steps]
        out["completeness"] = [
            {"criterion": s["criterion"], "unknown": n, "share": percent(n, denominator),
             "only_unknown": data.only_unknown.get((cohort, s["criterion"]), 0)}
            for s in steps if (n := data.unknown_not_failing.get((cohort, s["criterion"]), 0))]
        panels = data.age_sex.get(cohort, {})
        bands = [b for b in AGE_BANDS + ["unknown"] if any(b == k[0] for p in panels.values() for k in p)]
        out["age_sex_svg"] = charts.age_sex(dict(sorted(panels.items())), bands) if panels else ""
        out["top"] = data.top.get(cohort, [])
        out["review_if"] = [{"criterion": cid, "text": criteria.criterion(cid).approximates or ""}
                            for cid in ids if criteria.criterion(cid).review_if
                            and not protocol_wide_review(criteria.criterion(cid))]
    return out


def render_report(criteria: CriteriaFile, manifest: dict, shared: SharedCounts, data: ReportData | None) -> str:
    """report.html (data given: with impact, completeness, age/sex and the top of the ranked lists) or the
    shareable variant (data None: the suppressed counts and charts only)."""
    k = shared.published.k
    return _ENV.get_template("report.html.j2").render(
        trial=criteria.trial, title=criteria.title, shareable=data is None, k=k,
        glance=_glance(criteria, manifest, shared),
        cohorts=[_cohort(criteria, c, shared, data) for c in criteria.cohorts])
