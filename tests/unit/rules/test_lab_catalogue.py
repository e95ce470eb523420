"""The lab catalogue (criteria/catalogue/labs.yaml, merged by jobs.rules.loader): a trial's lab takes the
catalogue's facts, its own fields win, a bad reference or a bad catalogue is one clear line; derivation inputs
are checked against the file's labs. No Spark."""

from __future__ import annotations

import pytest

from jobs.errors import CriteriaError
from jobs.rules.loader import CATALOGUE, load_catalogue, parse_criteria
from schemas.labs import LabCatalogue

BASE = """\
trial: T
title: t
version: "1"
concept_sets:
  x: {{name: X, items: [{{concept_id: 3004410}}]}}
labs:
{labs}
criteria:
  - id: a
    type: inclusion
    text: "lab"
    rule: {rule}
cohorts:
  c: {{title: C, criteria: [a]}}
"""
A1C_RULE = '{kind: lab, lab: hba1c, comparator: ">=", value: 53, unit: mmol/mol}'


def _file(labs: str, rule: str = A1C_RULE) -> str:
    return BASE.format(labs=labs, rule=rule)


def test_a_trial_lab_takes_its_catalogue_facts():
    lab = parse_criteria(_file("  hba1c: {name: HbA1c, concept_set: x}")).labs["hba1c"]
    assert lab.equations == ["hba1c_ifcc_ngsp"]
    assert (lab.plausible.min, lab.plausible.max, lab.plausible.unit) == (2, 20, "%")


def test_the_trial_file_wins_and_may_name_another_entry():
    labs = parse_criteria(_file("  hba1c: {name: HbA1c, concept_set: x, plausible: {min: 3, max: 18, unit: '%'}}\n"
                                "  a1c_ifcc: {name: A1c, concept_set: x, catalogue: hba1c}")).labs
    assert (labs["hba1c"].plausible.min, labs["hba1c"].plausible.max) == (3, 18)
    assert labs["a1c_ifcc"].equations == ["hba1c_ifcc_ngsp"] and labs["a1c_ifcc"].plausible.max == 20


def test_without_the_catalogue_equation_mmol_mol_is_not_a_percent():
    """The same file against an empty catalogue: the lab has no equation, so nothing converts mmol/mol into %
    (validation passes; the results would count as unconvertible)."""
    lab = parse_criteria(_file("  hba1c: {name: HbA1c, concept_set: x}"),
                         catalogue=LabCatalogue(version="0", labs={})).labs["hba1c"]
    assert lab.equations == [] and lab.plausible is None


def test_an_unknown_catalogue_entry_is_one_line_with_the_trial_line():
    with pytest.raises(CriteriaError) as e:
        parse_criteria(_file("  hba1c: {name: HbA1c, concept_set: x, catalogue: hba1cc}"), "t.yaml")
    assert str(e.value).startswith("t.yaml:7: labs.hba1c.catalogue: no lab 'hba1cc' in the lab catalogue")
    assert "\n" not in str(e.value)


def test_a_bad_catalogue_names_its_file_line_and_field(tmp_path):
    bad = tmp_path / "labs.yaml"
    bad.write_text('version: "1"\nlabs:\n  k:\n    valence: 1\n    plausible: {min: 9, max: 1, unit: mmol/L}\n')
    with pytest.raises(CriteriaError, match=r"labs.yaml:5: labs.k.plausible: .*min 9.0 is above max 1.0"):
        load_catalogue(bad)
    bad.write_text('version: "1"\nlabs:\n  k: {equations: [hba1c_ngsp]}\n')
    with pytest.raises(CriteriaError, match="unknown unit equation 'hba1c_ngsp'"):
        load_catalogue(bad)


def test_the_shipped_catalogue_is_valid_and_gives_every_range_a_known_unit():
    cat = load_catalogue(CATALOGUE)
    assert {"hba1c", "glucose", "potassium", "sodium", "weight", "height", "bmi", "uacr", "qt", "nt_probnp"} \
        <= set(cat.labs)
    assert all(e.plausible is not None for e in cat.labs.values())
    assert cat.labs["potassium"].valence == 1 and cat.labs["glucose"].molar_mass == pytest.approx(180.16)


@pytest.mark.parametrize("labs, fragment", [
    ("  qtc: {name: QTc, concept_set: x}\n  qt: {name: QT, concept_set: x}",
     "derive: qtc_fridericia needs a lab named rr or heart_rate"),
    ("  bmi: {name: BMI, concept_set: x}\n  weight: {name: W, concept_set: x}",
     "derive: bmi_from_weight_height needs a lab named height"),
])
def test_a_derivation_needs_its_inputs_defined(labs, fragment):
    lab, derive, unit = ("qtc", "qtc_fridericia", "ms") if "qtc" in labs else ("bmi", "bmi_from_weight_height",
                                                                               "kg/m2")
    rule = f'{{kind: lab, lab: {lab}, comparator: ">", value: 1, unit: {unit}, derive: {derive}}}'
    with pytest.raises(CriteriaError, match=fragment):
        parse_criteria(_file(labs, rule))


def test_one_alternative_input_is_enough():
    text = _file("  qtc: {name: QTc, concept_set: x}\n  qt: {name: QT, concept_set: x}\n"
                 "  heart_rate: {name: HR, concept_set: x}",
                 '{kind: lab, lab: qtc, comparator: ">", value: 450, unit: ms, derive: qtc_fridericia}')
    assert parse_criteria(text).labs["heart_rate"].plausible.unit == "/min"
