"""Concept sets resolve the same without a vocabulary hierarchy (issue 15.1), say how each member got in, count
what they match, and an empty set is loud (16.10); pMN secondary causes (15.3) on hand-built rows."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from jobs.extract.concept_sets import empty_set_warnings, set_users, summarize
from jobs.extract.inputs import read_tables
from jobs.extract.reader import OmopExtract
from jobs.extract.vocabulary import FROM_EXTRACT, FROM_SHIPPED, LISTED, resolve_concept_sets
from jobs.rules.loader import load_criteria
from tests.conftest import CRITERIA
from tests.support.omop_builder import Extract
from tests.support.pipeline_helpers import outcomes

pytestmark = pytest.mark.spark
AS_OF = date(2026, 10, 1)
HEPATITIS_FORMS = (4308946, 45772057, 46286608, 44813294, 43531723)  # issue 15: missed on a partial vocabulary
MN_FORMS = (37018349, 37018348)


def _sets_in(rule: dict) -> set[str]:
    return ({rule["concept_set"]} if "concept_set" in rule else set()).union(
        *[_sets_in(r) for r in rule.get("rules", [])], _sets_in(rule["rule"]) if "rule" in rule else set())


def _small_criteria(tmp_path, ids: list[str], extra_sets: dict | None = None, extra: list[dict] = ()):
    """The shipped file cut down to `ids` (and their concept sets; no labs): the same rules, fewer features."""
    full = yaml.safe_load(CRITERIA.read_text(encoding="utf-8"))
    crits = [c for c in full["criteria"] if c["id"] in ids] + list(extra)
    used = set().union(*[_sets_in(c["rule"]) for c in crits])
    sets = {k: v for k, v in full["concept_sets"].items() if k in used}
    doc = {k: full[k] for k in ("trial", "title", "version", "source", "defaults")}
    doc |= {"concept_sets": sets | (extra_sets or {}), "labs": {}, "criteria": crits,
            "cohorts": {"pmn": {"title": "pMN", "criteria": [c["id"] for c in crits]}}}
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return load_criteria(path).model


@pytest.fixture(scope="module")
def no_hierarchy(tmp_path_factory):
    """Persons 1-5 each with one hepatitis B/C descendant form, 6-7 with a membranous GN form, 8 with nothing;
    concept_ancestor EMPTY (as Synthea's); the extract's concept table holds only 4308946."""
    e = Extract()
    for pid in range(1, 9):
        e.person(pid)
    for pid, concept in enumerate(HEPATITIS_FORMS + MN_FORMS, start=1):
        e.condition(pid, concept, "2025-06-01")
    e.condition(1, 4308946, "2024-01-01")  # a second record of the same member: 2 records, 1 person
    e.concept(4308946, "SNOMED", "424340000", name="Hepatic coma due to chronic hepatitis B")
    return e.write(tmp_path_factory.mktemp("no_hierarchy"))


def test_descendant_forms_resolve_through_the_shipped_rows_with_an_empty_concept_ancestor(spark, criteria,
                                                                                           no_hierarchy):
    extract = OmopExtract(spark, str(no_hierarchy))
    resolved = resolve_concept_sets(spark, criteria, extract)
    how = {n: {m.concept_id: m.how for m in ms} for n, ms in resolved.members.items()}
    for concept in HEPATITIS_FORMS:
        assert how["chronic_infection"].get(concept) == FROM_SHIPPED, concept
        assert how["mn_viral_causes"].get(concept) == FROM_SHIPPED, concept
    for concept in MN_FORMS:
        assert how["membranous_primary"].get(concept) == FROM_SHIPPED, concept
    assert how["chronic_infection"][4281232] == LISTED
    assert 4308946 in resolved.in_extract and 45772057 not in resolved.in_extract
    assert resolved.names[45772057] == "Cirrhosis of liver due to hepatitis B"  # from the shipped subset
    # the code-only labs resolve through the extract's concept table alone: here they are empty, and say so
    assert resolved.empty_sets == ["ana_titer", "anti_dsdna", "anti_pla2r", "qtc"]

    summary = summarize(spark, read_tables(extract), resolved, criteria)
    infection = summary["chronic_infection"]
    assert (infection.records, infection.persons) == (6, 5)
    by_id = {m.concept_id: m for m in infection.members}
    assert (by_id[4308946].records, by_id[4308946].persons, by_id[4308946].in_extract) == (2, 1, True)
    assert (by_id[43531723].records, by_id[43531723].persons, by_id[43531723].in_extract) == (1, 1, False)
    assert (by_id[4281232].records, by_id[4281232].persons) == (0, 0)
    assert (summary["membranous_primary"].records, summary["membranous_primary"].persons) == (2, 2)
    assert summary["chronic_infection"].users == ["gen_exc_13"]
    assert set_users(criteria)["upcr"] == ["ln_inc_3", "pmn_inc_2"]  # through the lab definition
    assert "creatinine" in {n for n, u in set_users(criteria).items() if "gen_exc_1" in u}  # a derivation's input


def test_hepatitis_forms_are_excluded_without_a_hierarchy(spark, tmp_path, no_hierarchy):
    small = _small_criteria(tmp_path, ["gen_exc_13"])
    got = outcomes(spark, no_hierarchy, small, AS_OF, tmp_path / "work")
    for pid in range(1, 6):
        assert got[(pid, "gen_exc_13")][0] == "fail", pid
    assert got[(8, "gen_exc_13")][0] == "review"  # review_if: [pass] (screening tests decide)


def test_an_extract_ancestor_row_is_named_as_such(spark, criteria, tmp_path):
    e = Extract().person(1).condition(1, 9_900_001, "2025-01-01").ancestor(4281232, 9_900_001)
    e.ancestor(4281232, 4308946)  # the extract has it too: the extract's hierarchy is named first
    resolved = resolve_concept_sets(spark, criteria, OmopExtract(spark, str(e.write(tmp_path / "x"))))
    how = {m.concept_id: m.how for m in resolved.members["chronic_infection"]}
    assert how[9_900_001] == FROM_EXTRACT and how[4308946] == FROM_EXTRACT and how[45772057] == FROM_SHIPPED
    assert 9_900_001 not in resolved.names  # a member that is a concept nowhere


def test_an_empty_concept_set_is_a_warning_naming_its_criteria(spark, tmp_path):
    ghost = {"ghost": {"name": "ghost", "items": [{"concept_id": 999_999_901},
                                                  {"code": "NOPE-1", "vocabulary": "LOINC"}]}}
    rule = {"kind": "condition", "concept_set": "ghost"}
    small = _small_criteria(tmp_path, ["gen_exc_13"], extra_sets=ghost,
                            extra=[{"id": "ghost_exc", "type": "exclusion", "text": "ghost", "rule": rule}])
    e = Extract().person(1).write(tmp_path / "one")
    resolved = resolve_concept_sets(spark, small, OmopExtract(spark, str(e)))
    assert resolved.empty_sets == ["ghost"]
    assert resolved.unresolved_codes == ["ghost: LOINC NOPE-1"]
    (line,) = empty_set_warnings(resolved, small)
    assert line.startswith("concept set ghost: no member is a concept") and "read by ghost_exc" in line


def test_pmn_secondary_causes_exclude_and_name_the_cause(spark, tmp_path):
    """SLE, hepatitis B, HIV, malignancy-associated and drug-induced MN fail pmn_exc_1 with the cause in the
    evidence; an old malignancy sends pmn_exc_2 to review (a recent one fails gen_exc_14 and is reviewed too)."""
    e = Extract()
    plant = {1: 257628, 2: 4281232, 3: 439727, 4: 36716176, 5: 36716200, 6: 443392, 7: 443392, 8: 4308946}
    for pid in range(1, 10):
        e.person(pid)
    for pid, concept in plant.items():
        e.condition(pid, concept, "2017-03-01" if pid == 6 else "2025-03-01")
    e.observation(9, 257628, "2020-01-01")  # SLE recorded as an observation counts as well
    small = _small_criteria(tmp_path, ["gen_exc_14", "pmn_exc_1", "pmn_exc_2"])
    got = outcomes(spark, e.write(tmp_path / "pmn"), small, AS_OF, tmp_path / "work")
    cause = {1: "SLE", 2: "hepatitis B / hepatitis C / HIV", 3: "hepatitis B / hepatitis C / HIV",
             4: "malignancy-associated or drug-induced", 5: "malignancy-associated or drug-induced",
             8: "hepatitis B / hepatitis C / HIV", 9: "SLE"}
    for pid, text in cause.items():
        outcome, evidence, _ = got[(pid, "pmn_exc_1")]
        assert outcome == "fail" and text in evidence, (pid, outcome, evidence)
    for pid in (6, 7):
        assert got[(pid, "pmn_exc_1")][0] == "pass"
        assert got[(pid, "pmn_exc_2")][0] == "review" and "malignancy" in got[(pid, "pmn_exc_2")][1]
    assert got[(6, "gen_exc_14")][0] == "pass" and got[(7, "gen_exc_14")][0] == "fail"
    for pid in (1, 2, 3):
        assert got[(pid, "pmn_exc_2")][0] == "pass"
