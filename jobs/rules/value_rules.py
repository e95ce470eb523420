"""Builders of the value rule kinds (schemas/value_rules.py): alternatives of one quantity, several results of
one lab, daily doses, and mixed items (a coded part plus a review note). Registered with `build`; compiler.py
imports this module. Semantics: README "Semantics", "Values over time, alternatives, doses and mixed items".
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.columns import number_text
from jobs.features.lab_series import meets
from jobs.rules.evidence import Context, Evidence, build, window_text
from schemas.criteria import Criterion
from schemas.features import dose_request, series_request
from schemas.value_rules import Alternatives, DrugDoseRule, LabSeriesRule, MixedRule


def _any(cols: list[Column]) -> Column:
    return reduce(lambda a, b: a | b, cols) if cols else F.lit(False)


def chosen_alternative(has: list[Column], dates: list[Column], prefer: str) -> list[Column]:
    """One boolean per alternative, true for the one that decides (at most one is true).

    `has[i]`: alternative i has a value. prefer `first`: the first listed with a value; `latest`: the one with
    the most recent date, ties by listed order."""
    if prefer == "latest":
        latest = reduce(lambda a, b: F.greatest(a, b), [F.when(h, d) for h, d in zip(has, dates, strict=True)])
        candidates = [h & d.eqNullSafe(latest) for h, d in zip(has, dates, strict=True)]
    else:
        candidates = has
    return [c & ~_any(candidates[:i]) for i, c in enumerate(candidates)]


@build.register
def _alternatives(rule: Alternatives, ctx: Context) -> Evidence:
    kids = [build(r, ctx) for r in rule.rules]
    has = [k.truth.isNotNull() for k in kids]
    pick = chosen_alternative(has, [k.date for k in kids], rule.prefer)

    def chosen(field: str) -> Column:
        return F.coalesce(*[F.when(p, getattr(k, field)) for p, k in zip(pick, kids, strict=True)])

    n_with = reduce(lambda a, b: a + b, [F.when(h, 1).otherwise(0) for h in has])
    how = "most recent" if rule.prefer == "latest" else "first listed"
    why = F.when(n_with > 1, F.format_string(f" ({how} of %d alternatives with a result)", n_with)).otherwise("")
    none = F.array_join(F.array(*[k.text for k in kids]), "; ")
    return Evidence(chosen("truth"), chosen("value"), chosen("unit"), chosen("date"), chosen("concept"),
                    F.when(n_with > 0, F.concat(chosen("text"), why)).otherwise(none))


def _threshold_text(rule: LabSeriesRule) -> str:
    if rule.comparator is None:
        return ""
    if rule.comparator == "between":
        return f"{rule.value:g}-{rule.max:g} {rule.unit}"
    return f"{rule.comparator} {rule.value:g} {rule.unit}"


@build.register
def _lab_series(rule: LabSeriesRule, ctx: Context) -> Evidence:
    name = ctx.criteria.labs[rule.lab].name
    feat = F.col(series_request(ctx.criteria, rule).name)
    n = F.coalesce(feat["n_results"], F.lit(0))
    q = F.coalesce(feat["n_meeting"], F.lit(0))
    span = F.datediff(feat["last_date"], feat["first_date"])
    window = window_text(ctx.criteria.lookback(rule))
    listed = F.format_string(f"%d {name} results{window} from %s to %s", n, feat["first_date"].cast("string"),
                             feat["last_date"].cast("string"))
    threshold = _threshold_text(rule)
    if rule.test == "count":
        truth = F.when(q >= rule.min_results, True).when(n >= rule.min_results, False)
        value, unit, date = q.cast("double"), F.lit("results"), feat["last_meeting_date"]
        text = F.concat(listed, F.format_string(f", %d {threshold} (%d needed)", q, F.lit(rule.min_results)))
    elif rule.test == "apart":
        gap = F.datediff(feat["last_meeting_date"], feat["first_meeting_date"])
        truth = F.when(gap >= rule.apart_days, True).when(span >= rule.apart_days, False)
        value, unit, date = gap.cast("double"), F.lit("days"), feat["last_meeting_date"]
        text = F.concat(listed, F.when(q > 0, F.format_string(
            f", {threshold} on %s and %s (%d days apart, %d needed)", feat["first_meeting_date"].cast("string"),
            feat["last_meeting_date"].cast("string"), gap, F.lit(rule.apart_days)))
            .otherwise(F.lit(f", none {threshold}")))
    else:  # stable: the spread of the window's results, over at least apart_days
        spread = F.when(feat["max_value"] > 0,
                        (feat["max_value"] - feat["min_value"]) / feat["max_value"] * 100)
        truth = F.when((span >= rule.apart_days) & spread.isNotNull(), spread <= rule.within_pct)
        value, unit, date = spread, F.lit("%"), feat["last_date"]
        text = F.concat(listed, F.format_string(f" (%d days, {rule.apart_days} needed): ", span),
                        number_text(feat["min_value"]), F.lit("-"), number_text(feat["max_value"]),
                        F.lit(f" {rule.unit}, spread "), F.coalesce(number_text(spread), F.lit("?")),
                        F.lit(f"% of the highest (at most {rule.within_pct:g}%)"))
    missing = F.lit(f"no {name} result{window}")
    return Evidence(truth, value, unit, date, feat["last_concept_id"], F.when(n > 0, text).otherwise(missing))


@build.register
def _drug_dose(rule: DrugDoseRule, ctx: Context) -> Evidence:
    label = ctx.criteria.concept_sets[rule.concept_set].name
    feat = F.col(dose_request(rule).name)
    n = F.coalesce(feat["n"], F.lit(0))
    dose = feat["daily_dose"]
    truth = F.when(n == 0, False).when(dose.isNotNull(), meets(dose, rule.comparator, rule.value, rule.max))
    on = F.concat(F.lit(" on "), feat["date"].cast("string"))
    known = F.concat(F.lit(f"{label} "), number_text(dose), F.lit(f" {rule.unit}"), on, F.lit(" ("),
                     number_text(feat["amount"]), F.lit(" "), F.coalesce(feat["amount_unit"], F.lit("?")),
                     F.lit(" x "), number_text(feat["quantity"]), F.lit(" / "),
                     feat["days_supply"].cast("string"), F.lit(" days)"))
    unknown = F.concat(F.lit(label), on, F.lit(": daily dose unknown ("), feat["missing"], F.lit(")"))
    text = (F.when(n == 0, F.lit(f"no {label}{window_text(rule.within_days)}"))
            .when(dose.isNotNull(), known).otherwise(unknown))
    return Evidence(truth, dose, F.lit(rule.unit), feat["date"], feat["concept_id"], text)


@build.register
def _mixed(rule: MixedRule, ctx: Context) -> Evidence:
    return build(rule.coded, ctx)  # the outcome (compiler.outcome) turns a pass into review


def review_on(criterion: Criterion) -> set[str]:
    """The computed outcomes this criterion turns into review: its review_if, plus pass for a mixed item."""
    return set(criterion.review_if) | ({"pass"} if isinstance(criterion.rule, MixedRule) else set())


def with_review_note(criterion: Criterion, outcome: Column, text: Column) -> Column:
    """A mixed item's evidence, with what a person must still check when it goes to review."""
    if not isinstance(criterion.rule, MixedRule):
        return text
    return F.when(outcome == "review", F.concat(text, F.lit(f"; a person checks: {criterion.rule.review}"))
                  ).otherwise(text)



