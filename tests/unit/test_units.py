"""The unit table and its conversions (schemas.units), no Spark: every new unit, the facts a conversion needs,
the affine HbA1c master equation, recognition by concept id and by text."""

from __future__ import annotations

import pytest

from schemas.units import (
    EQUATIONS,
    LabFacts,
    alias_table,
    concept_table,
    conversion,
    convertible,
    factors_to,
    normalise_unit_text,
)

HBA1C = LabFacts(equations=("hba1c_ifcc_ngsp",))


@pytest.mark.parametrize("source, target, facts, value, expected", [
    ("mmol/mol", "%", HBA1C, 53.0, 7.0004),  # NGSP = 0.09148 x IFCC + 2.152
    ("%", "mmol/mol", HBA1C, 7.0, 52.995),
    ("%{HbA1c}", "mmol/mol", HBA1C, 6.5, 47.53),
    ("mmol/mol", "%{HbA1c}", HBA1C, 86.0, 10.019),
    ("%{HbA1c}", "%", LabFacts(), 7.2, 7.2),  # an annotation does not change the quantity
    ("mmol/L", "mg/dL", LabFacts(180.16), 7.0, 126.11),  # glucose
    ("mg/dL", "mmol/L", LabFacts(180.16), 126.0, 6.9938),
    ("mmol/L", "mg/dL", LabFacts(386.65), 5.0, 193.33),  # cholesterol
    ("mEq/L", "mmol/L", LabFacts(valence=1), 5.8, 5.8),  # potassium, sodium
    ("mEq/L", "mmol/L", LabFacts(valence=2), 5.0, 2.5),  # a divalent ion
    ("umol/L", "mmol/L", LabFacts(), 2500.0, 2.5),  # amount to amount: no molar mass needed
    ("umol/L", "mg/dL", LabFacts(113.12), 88.4, 1.0),  # creatinine
    ("mg/mmol", "mg/g", LabFacts(113.12), 30.0, 265.2),  # ratio over creatinine
    ("mg/g", "mg/mmol", LabFacts(113.12), 30.0, 3.3936),
    ("pg/mL", "ng/L", LabFacts(), 125.0, 125.0),
    ("ng/mL", "pg/mL", LabFacts(), 1.0, 1000.0),
    ("lb", "kg", LabFacts(), 220.462, 100.0),
    ("g", "kg", LabFacts(), 70500.0, 70.5),
    ("in", "cm", LabFacts(), 70.0, 177.8),
    ("m", "cm", LabFacts(), 1.8, 180.0),
    ("kg/m2", "kg/m2", LabFacts(), 31.0, 31.0),
    ("s", "ms", LabFacts(), 0.44, 440.0),
])
def test_conversions(source, target, facts, value, expected):
    assert conversion(source, target, facts).apply(value) == pytest.approx(expected, rel=1e-4)


def test_the_master_equation_is_affine_and_round_trips():
    there, back = conversion("mmol/mol", "%", HBA1C), conversion("%", "mmol/mol", HBA1C)
    assert there.offset == pytest.approx(2.152) and there.scale == pytest.approx(0.09148)
    assert back.apply(there.apply(64.0)) == pytest.approx(64.0)
    assert conversion("mmol/mol", "mmol/mol", HBA1C).offset == 0.0
    assert EQUATIONS["hba1c_ifcc_ngsp"].source == "mmol/mol"


@pytest.mark.parametrize("source, target, facts", [
    ("mmol/mol", "%", LabFacts()),  # without the lab's equation, mmol/mol is no percent (SpO2 is not HbA1c)
    ("mmol/L", "mg/dL", LabFacts()),  # mass <-> amount needs the molar mass
    ("mEq/L", "mmol/L", LabFacts(180.16)),  # equivalents need the valence
    ("kg", "cm", LabFacts()),
    ("kg/m2", "kg", LabFacts()),
    ("/min", "ms", LabFacts()),  # a heart rate is not an interval (QTc reads it through its formula)
])
def test_conversions_that_need_a_fact_or_cannot_be(source, target, facts):
    assert conversion(source, target, facts) is None and not convertible(source, target, facts)


def test_factors_list_only_what_converts():
    assert set(factors_to("kg")) == {"kg", "g", "lb"}
    assert set(factors_to("cm")) == {"cm", "m", "in"}
    assert {"%", "%{HbA1c}", "mmol/mol"} <= set(factors_to("%", HBA1C))
    assert "mmol/mol" not in factors_to("%")


def test_unit_concepts_and_annotation_spellings_are_recognised():
    concepts = concept_table()
    assert (concepts[9225], concepts[9579], concepts[9557], concepts[8753]) == ("%{HbA1c}", "mmol/mol", "mEq/L",
                                                                              "mmol/L")
    assert (concepts[9531], concepts[9529], concepts[8739], concepts[8582], concepts[9327]) == (
        "kg/m2", "kg", "lb", "cm", "in")
    assert (concepts[8845], concepts[8725], concepts[8541], concepts[9017]) == ("pg/mL", "ng/L", "/min", "mg/g")
    aliases = alias_table()
    for text, key in [("%{HbA1c}", "%{HbA1c}"), ("mg/g{creat}", "mg/g"), ("[lb_av]", "lb"), ("[in_i]", "in"),
                      ("mEq/L", "mEq/L"), ("10*-3.eq/L", "mEq/L"), ("{beats}/min", "/min"), ("kg/m2", "kg/m2"),
                      ("pg/mL", "pg/mL"), ("mmol/mol", "mmol/mol")]:
        assert aliases[normalise_unit_text(text)] == key, text


def test_every_alias_and_concept_names_one_unit():
    """A spelling or concept shared by two units would make recognition depend on table order."""
    from schemas.units import UNITS
    owners: dict[str, set[str]] = {}
    for u in UNITS:
        for a in (u.key, *u.aliases):
            owners.setdefault(normalise_unit_text(a), set()).add(u.key)
    assert {t: k for t, k in owners.items() if len(k) > 1} == {}
    ids = [c for u in UNITS for c in u.concept_ids]
    assert len(ids) == len(set(ids))
