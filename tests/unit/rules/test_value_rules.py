"""The value rule kinds as data (no Spark): they parse, and wrong shapes give one clear message naming the
criterion and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.errors import CriteriaError
from jobs.rules.loader import load_criteria, parse_criteria
from schemas.criteria import walk_rules
from schemas.features import plan_features
from schemas.value_rules import Alternatives, LabSeriesRule, MixedRule

ROOT = Path(__file__).resolve().parents[3]
BASE = """\
trial: T
title: t
version: "1"
concept_sets:
  sle: {name: SLE, items: [{concept_id: 257628}]}
  upcr: {name: UPCR, items: [{concept_id: 3001582}]}
  ana: {name: ANA, items: [{concept_id: 3001583}]}
labs:
  upcr: {name: UPCR, concept_set: upcr, molar_mass: 113.12}
  ana: {name: ANA, concept_set: ana, unitless_is: titer}
criteria:
  - id: a
    type: inclusion
    text: "the rule under test"
    rule: RULE
cohorts:
  c: {title: C, criteria: [a]}
"""
UPCR = '{kind: lab, lab: upcr, comparator: ">=", value: 1.5, unit: g/g}'


def _parse(rule: str):
    return parse_criteria(BASE.replace("RULE", rule), "x.yaml")


def test_test_file_and_trial_parse_with_the_new_kinds():
    model = load_criteria(ROOT / "tests/data/value_rules.yaml").model
    kinds = {type(r) for c in model.criteria for _, r in walk_rules(c.rule, "rule")}
    assert {Alternatives, LabSeriesRule, MixedRule} <= kinds
    trial = load_criteria(ROOT / "criteria/nct06557265.yaml").model
    assert isinstance(trial.criterion("ln_inc_3").rule, Alternatives)
    assert isinstance(trial.criterion("pmn_inc_2").rule, Alternatives)
    assert isinstance(trial.criterion("gen_exc_2").rule, MixedRule)


def test_walk_reaches_into_the_new_kinds_and_the_plan_reads_their_features():
    model = _parse(f"{{kind: mixed, review: 'a person checks', coded: {{kind: alternatives, rules: [{UPCR}, "
                   "{kind: lab, lab: upcr, comparator: '>=', value: 2, unit: g/g, lookback_days: 30}]}}")
    paths = [p for p, _ in walk_rules(model.criteria[0].rule, "rule")]
    assert paths == ["rule", "rule.coded", "rule.coded.rules[0]", "rule.coded.rules[1]"]
    assert {r.lookback_days for r in plan_features(model).labs} == {90, 30}
    series = _parse("{kind: lab_series, lab: upcr, test: count, min_results: 2, comparator: '>=', value: 1.5, "
                    "unit: g/g}")
    plan = plan_features(series)
    assert [r.name for r in plan.series] == ["upcr__g_g__90d__series_ge_1_5"]
    assert plan.lab_units() == {"upcr": {"g/g"}} and plan.lab_names() == {"upcr"}


BAD = [
    ("one alternative", f"{{kind: alternatives, rules: [{UPCR}]}}",
     ["criterion a, rule.rules: List should have at least 2"]),
    ("alternative not a lab", f"{{kind: alternatives, rules: [{UPCR}, {{kind: condition, concept_set: sle}}]}}",
     ["rule.rules[1].kind: Input should be 'lab'"]),
    ("unknown prefer", f"{{kind: alternatives, prefer: best, rules: [{UPCR}, {UPCR}]}}", ["prefer"]),
    ("count without min_results", "{kind: lab_series, lab: upcr, test: count, comparator: '>=', value: 1, "
     "unit: g/g}", ["test count needs min_results"]),
    ("stable with a comparator", "{kind: lab_series, lab: upcr, test: stable, within_pct: 10, apart_days: 30, "
     "comparator: '>=', value: 1, unit: g/g}", ["test stable does not use comparator"]),
    ("apart without comparator", "{kind: lab_series, lab: upcr, test: apart, apart_days: 30, unit: g/g}",
     ["test apart needs comparator"]),
    ("series unknown lab", "{kind: lab_series, lab: nope, test: count, min_results: 2, comparator: '>=', "
     "value: 1, unit: g/g}", ["criterion a: rule.lab: unknown lab 'nope'"]),
    ("series unit the lab cannot express", "{kind: lab_series, lab: ana, test: count, min_results: 2, "
     "comparator: '>=', value: 1, unit: g/g}", ["unit: g/g cannot express lab ana"]),
    ("series unknown unit", "{kind: lab_series, lab: upcr, test: count, min_results: 2, comparator: '>=', "
     "value: 1, unit: furlongs}", ["unknown unit 'furlongs'"]),
    ("mixed nested", "{kind: any_of, rules: [{kind: mixed, review: abc, coded: {kind: age, min: 18}}]}",
     ["criterion a: rule.rules[0].kind: mixed is a whole criterion's rule"]),
    ("review inside mixed", "{kind: mixed, review: abc, coded: {kind: review, reason: abc}}",
     ["rule.coded.kind: review is a whole criterion"]),
    ("mixed without note", "{kind: mixed, coded: {kind: age, min: 18}}", ["review", "Field required"]),
]


@pytest.mark.parametrize("name,rule,fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_shapes_give_one_clear_message(name, rule, fragments):
    with pytest.raises(CriteriaError) as err:
        _parse(rule)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, f"{name}: {fragment!r} not in {message!r}"
    assert "Traceback" not in message


def test_mixed_with_review_if_pass_is_refused():
    text = BASE.replace("RULE", "{kind: mixed, review: abc, coded: {kind: age, min: 18}}").replace(
        "    rule: {kind: mixed", "    approximates: x\n    review_if: [pass]\n    rule: {kind: mixed")
    with pytest.raises(CriteriaError, match="a mixed rule already turns pass into review"):
        parse_criteria(text, "x.yaml")


def test_drug_strength_and_quantity_are_read_only_when_a_dose_is_asked():
    from jobs.extract.inputs import extra_columns

    assert extra_columns(plan_features(load_criteria(ROOT / "criteria/nct06557265.yaml").model)) == {}
    dose = _parse("{kind: drug_dose, concept_set: sle, comparator: '>', value: 1500, unit: mg/24h}")
    assert extra_columns(plan_features(dose)) == {
        "drug_exposure": ["quantity"],
        "drug_strength": ["drug_concept_id", "ingredient_concept_id", "amount_value", "amount_unit_concept_id",
                          "invalid_reason"]}


@pytest.mark.parametrize("rule,fragment", [
    ("{kind: drug_dose, concept_set: sle, comparator: '>', value: 1500, unit: g/g}", "is not a daily amount"),
    ("{kind: drug_dose, concept_set: nope, comparator: '>', value: 1500, unit: mg/24h}",
     "criterion a: rule.concept_set: unknown concept set 'nope'"),
    ("{kind: drug_dose, concept_set: sle, comparator: between, value: 1500, unit: mg/24h}", "needs max >= value"),
])
def test_bad_dose_rules_are_refused(rule, fragment):
    with pytest.raises(CriteriaError, match=fragment.replace("(", r"\(")):
        _parse(rule)


def test_requests_with_and_without_a_window_sort_by_name():
    from schemas.features import DoseRequest, LabSeriesRequest

    series = [LabSeriesRequest("upcr", "g/g", None, None, None, None), LabSeriesRequest("upcr", "g/g", 90, ">=", 1.5,
                                                                                        None)]
    assert [r.name for r in sorted(series)] == ["upcr__g_g__90d__series_ge_1_5", "upcr__g_g__all__series_any"]
    doses = [DoseRequest("m", None, "mg/24h"), DoseRequest("m", 90, "mg/24h")]
    assert [r.within_days for r in sorted(doses)] == [90, None]
