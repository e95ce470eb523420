"""The `observation_value` rule kind: the latest recorded observation value in a window against a threshold or
a list of value concepts; like labs, no value in the window is unknown (never closed-world)."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.columns import number_text
from jobs.rules.evidence import Context, Evidence, build, window_text
from schemas.features import observation_value_request
from schemas.rule_time import ObservationValueRule


def compared(x: Column, rule: ObservationValueRule, feat: Column | None = None) -> Column:
    if rule.comparator == "in" and rule.value_concept_set is not None:
        return feat["value_in_set"]
    if rule.comparator == "in":
        return x.isin(*rule.concepts)
    if rule.comparator == "between":
        return (x >= rule.value) & (x <= rule.max)
    return {">": x > rule.value, ">=": x >= rule.value, "<": x < rule.value, "<=": x <= rule.value}[rule.comparator]


@build.register
def _observation_value(rule: ObservationValueRule, ctx: Context) -> Evidence:
    feat = F.col(observation_value_request(ctx.criteria, rule).name)
    label = rule.name or ctx.criteria.concept_sets[rule.concept_set].name
    when = F.concat(F.lit(" on "), feat["date"].cast("string"))
    if rule.comparator == "in":
        x = feat["value_concept_id"]
        shown = F.concat(F.lit(f"{label} value concept "), x.cast("string"), when)
        if rule.value_concept_set is not None:
            in_set = ctx.criteria.concept_sets[rule.value_concept_set].name
            shown = F.concat(shown, F.when(feat["value_in_set"], F.lit(f" ({in_set})"))
                             .otherwise(F.lit(f" (not {in_set})")))
        value, unit = x.cast("double"), F.lit("concept")
    else:
        x = feat["value"]
        shown = F.concat(F.lit(f"{label} "), number_text(x), F.lit(f" {rule.unit}" if rule.unit else ""), when)
        value, unit = x, F.lit(rule.unit)
    missing = F.lit(f"no {label} value{window_text(ctx.criteria.lookback(rule))}")
    return Evidence(F.when(x.isNotNull(), compared(x, rule, feat)), value, unit.cast("string"), feat["date"],
                    feat["concept_id"], F.when(x.isNotNull(), shown).otherwise(missing))
