"""Several trials in one run (jobs/rules/trials.py): folders, the union of feature plans, and concept-set names
two trials define differently. No Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.errors import CriteriaError
from jobs.rules.loader import LoadedCriteria, load_criteria, parse_criteria
from jobs.rules.trials import combine
from schemas.criteria import ReviewRule
from schemas.features import EventRequest, plan_features

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "criteria").glob("*.yaml"))


def _trial(trial: str, items: str, lab_set: str = "x", lookback: int = 90) -> LoadedCriteria:
    text = f"""\
trial: {trial}
title: t
version: "1"
defaults: {{lab_lookback_days: {lookback}}}
concept_sets:
  dx: {{name: DX, items: [{items}]}}
  x: {{name: X, items: [{{concept_id: 3016723}}]}}
  y: {{name: Y, items: [{{concept_id: 3051825}}]}}
labs:
  creat: {{name: creatinine, concept_set: {lab_set}}}
criteria:
  - {{id: a, type: inclusion, text: "dxs", rule: {{kind: condition, concept_set: dx, within_days: 30}}}}
  - {{id: b, type: exclusion, text: "lab", rule: {{kind: lab, lab: creat, comparator: ">", value: 2, unit: mg/dL}}}}
  - {{id: c, type: exclusion, text: "any",
      rule: {{kind: any_of, rules: [{{kind: drug, concept_set: dx}}, {{kind: procedure, concept_set: x}}]}}}}
cohorts:
  all: {{title: all, criteria: [a, b, c]}}
"""
    return LoadedCriteria(parse_criteria(text, f"{trial}.yaml"), f"{trial}.yaml", "0" * 64)


def test_every_shipped_trial_runs_together_with_shared_features():
    loaded = [load_criteria(p) for p in SHIPPED]
    trials = combine(loaded)
    assert sorted(trials.folders()) == ["NCT03036150", "NCT03987919", "NCT06557265"]
    # the shipped files agree on the names they share, so nothing is namespaced and features are shared
    assert all("__" not in n for t in trials.trials for n in t.model.concept_sets)
    plans = [plan_features(t.model) for t in trials.trials]
    assert trials.plan.events == set().union(*(p.events for p in plans))
    assert trials.plan.labs == set().union(*(p.labs for p in plans))
    union = sum(len(p.events) for p in plans)
    assert len(trials.plan.events) < union, "requests two trials share (e.g. myocardial_infarction) are built once"
    assert EventRequest("therapies", "ras_blockers", 365) in trials.plan.events  # NCT06557265
    assert EventRequest("therapies", "ras_blockers", 28, max_gap_days=7) in trials.plan.events  # DAPA-CKD (continuous)
    # heart_failure is asked over the whole history (NCT06557265, DAPA-CKD) and within 60 days during an
    # inpatient visit (SURPASS-2): the requests still sort (by feature name), as the builders and the contract need
    hf = [r.name for r in trials.plan.for_family("diagnoses") if r.concept_set == "heart_failure"]
    assert hf == ["heart_failure__60d__visit262_9201", "heart_failure__all"]
    assert [r.name for r in sorted(trials.plan.labs)] == sorted(r.name for r in trials.plan.labs)


def test_a_concept_set_name_defined_differently_is_namespaced_and_references_follow():
    a = _trial("A-1", "{concept_id: 201826}")
    b = _trial("B.2", "{concept_id: 201254}")
    same = _trial("C", "{concept_id: 201826}")
    trials = combine([a, b, same])
    ta, tb, tc = (t.model for t in trials.trials)
    assert "dx" in ta.concept_sets and "dx" in tc.concept_sets  # the first definition (and its twin) keep it
    assert "dx" not in tb.concept_sets and tb.concept_sets["b_2__dx"].items[0].concept_id == 201254
    assert tb.criteria[0].rule.concept_set == "b_2__dx"
    assert tb.criteria[2].rule.rules[0].concept_set == "b_2__dx"  # nested references are renamed too
    assert tb.criteria[2].rule.rules[1].concept_set == "x"  # names that agree are untouched
    assert trials.vocabulary.concept_sets["dx"].items[0].concept_id == 201826
    assert trials.vocabulary.concept_sets["b_2__dx"].items[0].concept_id == 201254
    assert EventRequest("diagnoses", "b_2__dx", 30) in trials.plan.events
    assert EventRequest("diagnoses", "dx", 30) in trials.plan.events
    assert [t.folder for t in trials.trials] == ["A-1", "B.2", "C"]


def test_each_trial_keeps_its_own_lab_lookback_in_the_union():
    trials = combine([_trial("A", "{concept_id: 1}", lookback=90), _trial("B", "{concept_id: 1}", lookback=30)])
    assert {r.lookback_days for r in trials.plan.labs} == {90, 30}


@pytest.mark.parametrize(("given", "message"), [
    ([], "--criteria is required"),
    (["A", "a"], "trial a is also given by A.yaml"),
    (["A/x"], "cannot name an output folder"),
])
def test_bad_trial_lists_are_one_clear_line(given, message):
    with pytest.raises(CriteriaError, match=message) as err:
        combine([_trial(t, "{concept_id: 1}") for t in given])
    assert "\n" not in str(err.value)


def test_one_lab_name_with_two_definitions_is_refused():
    with pytest.raises(CriteriaError, match=r"B.yaml: labs.creat differs from labs.creat of A.yaml"):
        combine([_trial("A", "{concept_id: 1}"), _trial("B", "{concept_id: 1}", lab_set="y")])


def test_the_fidelity_table_counts_the_shipped_files():
    """criteria/protocols/README.md's table equals what the files say: review-only = `kind: review`,
    approximate = `approximates` or `kind: mixed`, faithful = the rest (sys_alive, the system check, not counted)."""
    readme = (ROOT / "criteria" / "protocols" / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| NCT") and len(cells) == 6:
            rows[cells[0]] = [int(c) for c in cells[1:]]
    counted = {}
    for path in SHIPPED:
        model = load_criteria(path).model
        items = [c for c in model.criteria if c.id != "sys_alive"]
        review = sum(isinstance(c.rule, ReviewRule) for c in items)
        approx = sum((bool(c.approximates) or c.rule.kind == "mixed") and not isinstance(c.rule, ReviewRule)
                     for c in items)  # a mixed item: coded part computed, the rest a review note
        needs = sum(ln.startswith(" ") and ln.strip().startswith("# needs:")  # a mark above a rule, not the header
                    for ln in path.read_text(encoding="utf-8").splitlines())
        counted[model.trial] = [len(items), len(items) - review - approx, approx, review, needs]
    assert rows == counted
