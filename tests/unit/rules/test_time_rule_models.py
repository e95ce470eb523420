"""Issue 16 rule fields (drug coverage, between_days, occurrence, after, during_visit, observation_value,
recent_data): a good file parses, and each misuse gives one clear message naming the criterion and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.errors import CriteriaError
from jobs.rules.loader import load_criteria, parse_criteria
from schemas.features import plan_features
from tests.unit.rules.test_loader import GOOD

ROOT = Path(__file__).resolve().parents[3]
COND = "rule: {kind: condition, concept_set: sle}"


def with_rule(rule: str) -> str:
    return GOOD.replace(COND, f"rule: {rule}")


def test_the_timed_rules_test_file_parses_and_plans_its_features():
    model = load_criteria(ROOT / "tests/data/time_rules.yaml").model
    names = {r.name for r in plan_features(model).events}
    assert {"t2dm__90_365d", "t2dm__all_to180d", "ras__90d__gap5d", "hf__60d__visit262_9201"} <= names
    assert "t2dm__all" in names and "sle__all" in names  # first occurrence and `after` read the whole history


BAD = [
    ("reversed between", "{kind: condition, concept_set: sle, between_days: [365, 90]}",
     ["criterion b", "between_days: [365, 90] needs 0 <= first <= second"]),
    ("between and within", "{kind: condition, concept_set: sle, between_days: [1, 9], within_days: 30}",
     ["criterion b", "within_days or between_days, not both"]),
    ("gap without days", "{kind: drug, concept_set: sle, max_gap_days: 3}",
     ["criterion b", "max_gap_days applies to min_days or continuous_days"]),
    ("run longer than window", "{kind: drug, concept_set: sle, within_days: 20, continuous_days: 28}",
     ["criterion b", "continuous_days 28 is longer than the window (20 days)"]),
    ("first on drugs", "{kind: drug, concept_set: sle, occurrence: first}",
     ["criterion b", "occurrence: first is not supported on drug rules"]),
    ("after unknown set", "{kind: procedure, concept_set: sle, after: {first: lupus}}",
     ["criterion b", "rule.after.first: unknown concept set 'lupus'"]),
    ("after with min_count", "{kind: procedure, concept_set: sle, min_count: 2, after: {first: sle}}",
     ["criterion b", "after: is supported with min_count 1 only"]),
    ("visit on drugs", "{kind: drug, concept_set: sle, during_visit: [9201]}",
     ["criterion b", "during_visit: is not supported on drug rules"]),
    ("visit id", "{kind: condition, concept_set: sle, during_visit: [0]}",
     ["criterion b", "visit_concept_ids are positive"]),
    ("lab between with lookback", "{kind: lab, lab: upcr, comparator: '>', value: 1, unit: g/g, lookback_days: 9, "
     "between_days: [1, 5]}", ["criterion b", "between_days replaces lookback_days"]),
    ("observation value without value", "{kind: observation_value, concept_set: sle, comparator: '>'}",
     ["criterion b", "comparator '>' needs a value"]),
    ("observation value in without concepts", "{kind: observation_value, concept_set: sle, comparator: in}",
     ["criterion b", "comparator 'in' takes concepts"]),
    ("observation value unknown set", "{kind: observation_value, concept_set: nyha, comparator: '>', value: 2}",
     ["criterion b", "unknown concept set 'nyha'"]),
    ("observation value with both value lists", "{kind: observation_value, concept_set: sle, comparator: in, "
     "concepts: [1], value_concept_set: sle}", ["criterion b", "(one of them)"]),
    ("observation value set without in", "{kind: observation_value, concept_set: sle, comparator: '>', value: 2, "
     "value_concept_set: sle}", ["criterion b", "value_concept_set are only for comparator 'in'"]),
    ("observation value unknown value set", "{kind: observation_value, concept_set: sle, comparator: in, "
     "value_concept_set: nyha_iv}", ["criterion b", "value_concept_set: unknown concept set 'nyha_iv'"]),
    ("not_met with derive", "{kind: lab, lab: upcr, comparator: '>', value: 1, unit: g/g, no_result: not_met, "
     "derive: uacr_from_albumin_creatinine}", ["criterion b", "give derive or no_result, not both"]),
    ("no_result spelling", "{kind: lab, lab: upcr, comparator: '>', value: 1, unit: g/g, no_result: fail}",
     ["criterion b", "no_result"]),
    ("recency with nothing", "{kind: recent_data, observation_period: false}",
     ["criterion b", "observation_period: true or visit_within_days"]),
]


@pytest.mark.parametrize("name,rule,fragments", BAD, ids=[b[0] for b in BAD])
def test_misuse_gives_one_clear_message(name, rule, fragments):
    with pytest.raises(CriteriaError) as err:
        parse_criteria(with_rule(rule), "x.yaml")
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, f"{name}: {fragment!r} not in {message!r}"


def test_recent_data_default_validates():
    text = GOOD.replace('version: "1"\n', 'version: "1"\ndefaults: {recent_data: {visit_within_days: 0}}\n')
    with pytest.raises(CriteriaError, match="visit_within_days"):
        parse_criteria(text, "x.yaml")
    ok = GOOD.replace('version: "1"\n', 'version: "1"\ndefaults: {recent_data: {visit_within_days: 365}}\n')
    assert parse_criteria(ok).defaults.recent_data.visit_within_days == 365
