"""Compile criteria to Spark Columns over the person-level feature frame.

One builder per rule kind (registered with `build` from jobs.rules.evidence; a contract test checks every
kind has one; new kinds may live in their own module under jobs/rules/ imported here).
A builder returns `Evidence`: a three-valued `truth` Column (null = unknown) plus the value, unit, date,
concept and a readable text that explain it. Composite rules use Spark's own Kleene AND/OR, so unknowns
propagate exactly as in the README. Nothing here runs a Spark action.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F

import jobs.rules.observation_values  # noqa: F401  (registers the observation_value kind)
from jobs.columns import number_text
from jobs.rules.evidence import Context, Evidence, build, combine, null, window_text
from jobs.rules.timing import closed_world, coverage, rule_window_text, timed
from jobs.rules.value_rules import review_on, with_review_note
from schemas.criteria import (
    AgeRule,
    AliveRule,
    AllOf,
    AnyOf,
    ConditionRule,
    CriteriaFile,
    Criterion,
    DrugRule,
    EventRuleBase,
    LabRule,
    Not,
    ObservationRule,
    ProcedureRule,
    ReviewRule,
    SexRule,
)
from schemas.features import derived_request, event_request, lab_request

OUTCOMES = ("pass", "fail", "unknown", "review")


@build.register
def _age(rule: AgeRule, ctx: Context) -> Evidence:
    age = F.col("age")
    truth = F.lit(True)
    if rule.min is not None:
        truth = truth & (age >= rule.min)
    if rule.max is not None:
        truth = truth & (age <= rule.max)
    truth = F.when(age.isNotNull(), truth)
    text = F.when(age.isNotNull(), F.format_string("age %d", age)).otherwise(F.lit("no birth date"))
    return Evidence(truth, age.cast("double"), F.lit("years"), null("date"), null("long"), text)


@build.register
def _sex(rule: SexRule, ctx: Context) -> Evidence:
    sex = F.col("sex")
    truth = F.when(sex.isNotNull(), sex.isin(*rule.allowed))
    text = F.coalesce(F.concat(F.lit("sex "), sex), F.lit("sex not recorded as female or male"))
    return Evidence(truth, null("double"), null("string"), null("date"), null("long"), text)


@build.register
def _alive(rule: AliveRule, ctx: Context) -> Evidence:
    truth = ~F.col("deceased")
    text = F.when(F.col("deceased"), F.format_string("died on %s", F.col("death_date").cast("string"))
                  ).otherwise(F.lit("no death record"))
    return Evidence(truth, null("double"), null("string"), F.col("death_date"), null("long"), text)


def _event(rule: EventRuleBase, ctx: Context) -> Evidence:
    feat = F.col(event_request(rule).name)
    label = ctx.criteria.concept_sets[rule.concept_set].name
    n = F.coalesce(feat["n"], F.lit(0))
    truth = n >= rule.min_count
    value = n.cast("double")
    detail = F.format_string("%s on %s", F.lit(label), feat["last_date"].cast("string"))
    if rule.min_count > 1:
        detail = F.format_string("%d %s records, last on %s", n, F.lit(label), feat["last_date"].cast("string"))
    if isinstance(rule, DrugRule):
        if rule.min_days is not None or rule.continuous_days is not None:
            truth, value, detail = coverage(rule, feat, label, truth)
        if rule.min_distinct is not None:
            distinct = F.coalesce(feat["classes" if rule.distinct_by == "label" else "ingredients"], F.array())
            k = F.size(distinct)
            truth = truth & (k >= rule.min_distinct)
            value = k.cast("double")
            names = F.array_join(distinct.cast("array<string>"), ", ")
            detail = F.format_string("%d distinct %s (%s), last on %s", k, F.lit(label), names,
                                     feat["last_date"].cast("string"))
    none = F.lit(f"no {label}{rule_window_text(rule)}")
    text = F.when(n == 0, none).otherwise(detail)
    truth, text = closed_world(ctx, *timed(rule, ctx, feat, truth, text))
    unit = "distinct" if isinstance(rule, DrugRule) and rule.min_distinct else "records"
    if isinstance(rule, DrugRule) and (rule.min_days or rule.continuous_days) and not rule.min_distinct:
        unit = "days"
    return Evidence(truth, value, F.lit(unit), feat["last_date"], feat["last_concept_id"], text)


for _kind in (ConditionRule, ProcedureRule, ObservationRule, DrugRule):
    build.register(_kind)(_event)


def _compare(x: Column, rule: LabRule) -> Column:
    if rule.comparator == ">":
        return x > rule.value
    if rule.comparator == ">=":
        return x >= rule.value
    if rule.comparator == "<":
        return x < rule.value
    if rule.comparator == "<=":
        return x <= rule.value
    if rule.comparator == "between":
        return (x >= rule.value) & (x <= rule.max)
    raise ValueError(rule.comparator)


@build.register
def _lab(rule: LabRule, ctx: Context) -> Evidence:
    lab = ctx.criteria.labs[rule.lab]
    feat = F.col(lab_request(ctx.criteria, rule).name)
    derived = derived_request(ctx.criteria, rule)
    if derived is not None:  # a measured result in the window wins; else the derived value
        feat = F.when(feat["value"].isNotNull(), feat).otherwise(F.col(derived.name))
    lookback = ctx.criteria.lookback(rule)
    when = F.concat(F.lit(" on "), feat["date"].cast("string"))
    if rule.comparator == "positive":
        x = feat["positive"]
        truth = x
        shown = F.when(x, F.lit("positive")).otherwise(F.lit("negative"))
        text = F.concat(F.lit(f"{lab.name} "), shown, when)
        value, unit = null("double"), null("string")
    elif rule.relative_to == "uln":
        x = feat["uln_ratio"]
        truth = _compare(x, rule)
        text = F.concat(F.lit(f"{lab.name} "), number_text(feat["raw_value"]), F.lit(" "),
                        F.coalesce(feat["raw_unit"], F.lit("")), F.lit(" = "), number_text(x), F.lit("x ULN"), when)
        value, unit = x, F.lit("x ULN")
    else:
        x = feat["value"]
        truth = _compare(x, rule)
        text = F.concat(F.lit(f"{lab.name} "), number_text(x), F.lit(f" {rule.unit}"), when,
                        F.when(feat["derived"].isNotNull(), F.concat(F.lit(" ("), feat["derived"], F.lit(")")))
                        .otherwise(F.lit("")))
        value, unit = x, F.lit(rule.unit)
    truth = F.when(x.isNotNull(), truth)
    bad_units = F.coalesce(feat["n_unconvertible"], F.lit(0))
    into = f" to {rule.unit}".replace("%", "%%") if rule.unit else ""  # a format string: `%` must be escaped
    span = (f" {rule.between_days[0]}-{rule.between_days[1]} days before as-of" if rule.between_days
            else window_text(lookback))
    missing = F.concat(F.lit(f"no {lab.name} result{span}"),
                       F.when(bad_units > 0, F.format_string(f" (%d with a unit that cannot be converted{into})",
                                                             bad_units)).otherwise(F.lit("")))
    if rule.no_result == "not_met":  # documented evidence of a past finding: none on record is not met,
        absent, missing = closed_world(ctx, F.lit(False), F.concat(missing, F.lit(" (read as not met)")))
        truth = F.when(x.isNotNull(), truth).otherwise(absent)  # ...unless nobody was looking (recent_data)
    return Evidence(truth, value, unit, feat["date"], feat["concept_id"],
                    F.when(x.isNotNull(), text).otherwise(missing))


@build.register
def _all_of(rule: AllOf, ctx: Context) -> Evidence:
    children = [build(r, ctx) for r in rule.rules]
    return combine(children, reduce(lambda a, b: a & b, [c.truth for c in children]))


@build.register
def _any_of(rule: AnyOf, ctx: Context) -> Evidence:
    children = [build(r, ctx) for r in rule.rules]
    return combine(children, reduce(lambda a, b: a | b, [c.truth for c in children]))


@build.register
def _not(rule: Not, ctx: Context) -> Evidence:
    inner = build(rule.rule, ctx)
    return Evidence(~inner.truth, inner.value, inner.unit, inner.date, inner.concept,
                    F.concat(F.lit("not: "), inner.text))


@build.register
def _review(rule: ReviewRule, ctx: Context) -> Evidence:
    return Evidence(null("boolean"), null("double"), null("string"), null("date"), null("long"),
                    F.lit(rule.reason))


def outcome(criterion: Criterion, truth: Column) -> Column:
    """pass / fail / unknown / review for one criterion, from its rule's truth."""
    if isinstance(criterion.rule, ReviewRule):
        return F.lit("review")
    ok = truth if criterion.type == "inclusion" else ~truth
    computed = F.when(ok.isNull(), F.lit("unknown")).when(ok, F.lit("pass")).otherwise(F.lit("fail"))
    for flagged in sorted(review_on(criterion)):
        computed = F.when(computed == flagged, F.lit("review")).otherwise(computed)
    return computed


def criterion_result(criterion: Criterion, ctx: Context) -> Column:
    """struct(outcome, value, unit, date, concept_id, evidence) for one criterion."""
    ev = build(criterion.rule, ctx)
    result = outcome(criterion, ev.truth)
    return F.struct(
        result.alias("outcome"),
        ev.value.cast("double").alias("value"),
        ev.unit.cast("string").alias("unit"),
        ev.date.cast("date").alias("date"),
        ev.concept.cast("long").alias("concept_id"),
        with_review_note(criterion, result, ev.text).cast("string").alias("evidence"),
    )


def result_column(criterion_id: str) -> str:
    return f"c__{criterion_id}"


def compile_criteria(criteria: CriteriaFile) -> list[Column]:
    """One result struct Column per criterion, named c__<id>, to evaluate in a single projection. The as-of
    date is already in the features (every window was applied when they were built)."""
    ctx = Context(criteria)
    return [criterion_result(c, ctx).alias(result_column(c.id)) for c in criteria.criteria]
