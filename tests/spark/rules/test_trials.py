"""Two trials in one feature build (jobs/rules/trials.py) on hand-built rows: a concept-set name the trials
define differently is namespaced, so each trial's outcome follows its own definition; a request both make is
one feature column; each trial keeps its own lookback."""

from __future__ import annotations

from datetime import date

import pytest

from jobs.extract.inputs import prepare_inputs
from jobs.extract.reader import OmopExtract
from jobs.features.build import FeatureInputs, build_features, feature_frame
from jobs.quality.suites import lab_units, load_suites
from jobs.rules import evaluation as ev
from jobs.rules.loader import LoadedCriteria, parse_criteria
from jobs.rules.trials import combine
from tests.support.omop_builder import Extract

AS_OF = date(2026, 10, 1)
T2DM, T1DM, MI = 201826, 201254, 4329847


def _trial(trial: str, dx: int, lookback: int) -> LoadedCriteria:
    text = f"""\
trial: {trial}
title: t
version: "1"
defaults: {{lab_lookback_days: {lookback}}}
concept_sets:
  dx: {{name: diabetes, items: [{{concept_id: {dx}}}]}}
  mi: {{name: MI, items: [{{concept_id: {MI}}}]}}
  creat: {{name: creatinine, items: [{{concept_id: 3016723}}]}}
labs:
  creatinine: {{name: creatinine, concept_set: creat}}
criteria:
  - {{id: has_dx, type: inclusion, text: "diabetes", rule: {{kind: condition, concept_set: dx}}}}
  - {{id: no_mi, type: exclusion, text: "recent MI", rule: {{kind: condition, concept_set: mi, within_days: 84}}}}
  - {{id: creat_ok, type: inclusion, text: "creatinine",
      rule: {{kind: lab, lab: creatinine, comparator: "<", value: 1.5, unit: mg/dL}}}}
cohorts:
  c: {{title: c, criteria: [has_dx, no_mi, creat_ok]}}
"""
    return LoadedCriteria(parse_criteria(text, f"{trial}.yaml"), f"{trial}.yaml", "0" * 64)


@pytest.fixture(scope="module")
def outcomes(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trials")
    e = Extract()
    e.person(1).condition(1, T2DM, "2020-01-01").lab(1, 3016723, "2026-08-01", 1.0, 8840)  # lab 61 days ago
    e.person(2).condition(2, T1DM, "2020-01-01").condition(2, MI, "2026-09-01")
    folder = e.write(tmp / "omop")
    trials = combine([_trial("T2", T2DM, 90), _trial("T1", T1DM, 30)])
    inputs = prepare_inputs(spark, OmopExtract(spark, str(folder)), trials.vocabulary, lab_units(load_suites()),
                            plan=trials.plan)
    paths = build_features(FeatureInputs(spark, inputs.frames, trials.vocabulary, trials.plan, inputs.resolved,
                                         AS_OF), str(tmp / "work"))
    wide = feature_frame(spark, paths)
    got = {}
    for t in trials.trials:
        for r in ev.criteria_results(ev.evaluate(wide, t.model), t.model).collect():
            got[(t.folder, r["person_id"], r["criterion"])] = r["outcome"]
    return got, wide.columns, trials


@pytest.mark.spark
def test_each_trial_reads_its_own_definition_of_a_shared_name(outcomes):
    got, columns, trials = outcomes
    assert [t.model.criteria[0].rule.concept_set for t in trials.trials] == ["dx", "t1__dx"]
    assert (got[("T2", 1, "has_dx")], got[("T2", 2, "has_dx")]) == ("pass", "fail")  # T2DM
    assert (got[("T1", 1, "has_dx")], got[("T1", 2, "has_dx")]) == ("fail", "pass")  # T1DM
    # the identically defined set is one feature, read by both
    assert [c for c in columns if c.startswith("mi__")] == ["mi__84d"]
    assert got[("T2", 2, "no_mi")] == got[("T1", 2, "no_mi")] == "fail"
    assert got[("T2", 1, "no_mi")] == got[("T1", 1, "no_mi")] == "pass"
    # lookbacks stay per trial: the creatinine of 61 days ago counts in 90 days, not in 30
    assert (got[("T2", 1, "creat_ok")], got[("T1", 1, "creat_ok")]) == ("pass", "unknown")
