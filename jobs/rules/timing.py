"""Evidence pieces for issue 16's timed rules: drug coverage (covered days, continuous run), windows that end
before as-of, first occurrence, `after` another event, and data recency (the rule kind and the per-trial
default that turns closed-world "no record" into unknown). The event builder in compiler.py calls these;
the `recent_data` kind registers here. Semantics: README "Semantics: time, coverage, recency".
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.rules.evidence import Context, Evidence, build, null
from schemas.criteria import DrugRule, EventRuleBase
from schemas.features import after_request, first_request
from schemas.rule_time import RecentData, RecentDataRule


def rule_window_text(rule: EventRuleBase) -> str:
    """' in the last 90 days', ' 90-365 days before as-of', ' ever', plus ' during a visit (9201, 9203)'."""
    ids = ", ".join(map(str, sorted(rule.during_visit or ())))
    visit = f" during a visit ({ids})" if ids else ""
    if rule.between_days is not None:
        a, b = rule.between_days
        return (f" up to {a} days before as-of" if b is None else f" {a}-{b} days before as-of") + visit
    return (" ever" if rule.within_days is None else f" in the last {rule.within_days} days") + visit


def coverage(rule: DrugRule, feat: Column, label: str, truth: Column) -> tuple[Column, Column, Column]:
    """(truth, value, detail) for min_days / continuous_days: covered days of the union of exposures."""
    days, run = F.coalesce(feat["days"], F.lit(0)), F.coalesce(feat["run_days"], F.lit(0))
    n_days = rule.window()[0]
    parts, value = [], days.cast("double")
    if rule.min_days is not None:
        truth = truth & (days >= rule.min_days)
        of = " days ever" if n_days is None else f" of the{rule_window_text(rule).replace(' in the', '')}"
        parts.append(F.format_string(f"covered %d{of}", days))
    if rule.continuous_days is not None:
        truth = truth & (run >= rule.continuous_days)
        end = "as-of" if rule.window()[1] == 0 else "the window's end"
        parts.append(F.format_string(f"continuous for %d days up to {end}", run))
        value = run.cast("double") if rule.min_days is None else value
    gap = f" (refill gaps up to {rule.max_gap_days} days count)" if rule.max_gap_days else ""
    return truth, value, F.concat(F.lit(f"{label} "), F.concat_ws(", ", *parts), F.lit(gap))


def timed(rule: EventRuleBase, ctx: Context, feat: Column, truth: Column, text: Column) -> tuple[Column, Column]:
    """Narrow an event rule's truth by `occurrence: first` and `after`, explaining what failed."""
    if rule.occurrence == "first":
        first = F.col(first_request(rule).name)["first_date"]
        ok = first.eqNullSafe(feat["first_date"])
        text = F.when(truth & ~ok, F.format_string("first %s on %s, before the window",
                                                   F.lit(ctx.criteria.concept_sets[rule.concept_set].name),
                                                   first.cast("string"))).otherwise(text)
        truth = truth & ok
    if rule.after is not None:
        ref = F.col(after_request(rule).name)["first_date"]
        ref_label = ctx.criteria.concept_sets[rule.after.first].name
        ok = F.coalesce(feat["last_date"] >= ref, F.lit(False))  # no reference record: nothing is after it
        shown = F.when(ref.isNull(), F.lit(f"no {ref_label} record")).otherwise(
            F.format_string(f"first {ref_label} on %s", ref.cast("string")))
        text = F.when(truth, F.concat(text, F.lit(" ("), shown, F.lit(")"))).otherwise(text)
        text = F.when(truth & ~ok, F.concat(F.lit("none on or after the first record: "), text)).otherwise(text)
        truth = truth & ok
    return truth, text


def recent(spec: RecentData) -> Column:
    """Boolean: the person has recent data by `spec` (never null)."""
    cond = F.lit(False)
    if spec.observation_period:
        cond = cond | F.coalesce(F.col("observed_at_as_of"), F.lit(False))
    if spec.visit_within_days is not None:
        cond = cond | F.coalesce(F.col("days_since_visit") < spec.visit_within_days, F.lit(False))
    return cond


def recent_text(spec: RecentData) -> str:
    parts = (["no observation period covering as-of"] if spec.observation_period else []) + (
        [f"no visit in the last {spec.visit_within_days} days"] if spec.visit_within_days else [])
    return " and ".join(parts)


def closed_world(ctx: Context, truth: Column, text: Column) -> tuple[Column, Column]:
    """With `defaults.recent_data`, an event rule's false ("no record") is unknown for a person without recent
    data: absence of records means nothing when nobody was looking."""
    spec = ctx.criteria.defaults.recent_data
    if spec is None:
        return truth, text
    fresh = recent(spec)
    stale = truth.eqNullSafe(F.lit(False)) & ~fresh
    return (F.when(truth | fresh, truth),
            F.when(stale, F.concat(text, F.lit(f"; unknown: {recent_text(spec)}"))).otherwise(text))


@build.register
def _recent_data(rule: RecentDataRule, ctx: Context) -> Evidence:
    truth = recent(rule)
    shown = F.when(F.coalesce(F.col("observed_at_as_of"), F.lit(False)) & F.lit(rule.observation_period),
                   F.lit("observed on as-of (observation period)")).when(
        F.col("days_since_visit").isNotNull(), F.format_string("last visit %d days before as-of",
                                                               F.col("days_since_visit")))
    text = F.when(truth, shown).otherwise(F.lit(recent_text(rule)))
    return Evidence(truth, F.col("days_since_visit").cast("double"), F.lit("days"), null("date"), null("long"),
                    text)
