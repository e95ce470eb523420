"""ATLAS concept set files referenced from a criteria file: both export shapes, circe's defaults, clear errors.

No Spark: the loader expands `atlas:` into items before validation (resolution is tests/spark/extract/test_atlas.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from jobs.errors import CriteriaError
from jobs.rules.loader import load_criteria

CRITERIA = """\
trial: T
title: t
version: "1"
concept_sets:
  sle:
    name: SLE
    atlas: {atlas}
criteria:
  - id: b
    type: inclusion
    text: "sle"
    rule: {{kind: condition, concept_set: sle}}
cohorts:
  c: {{title: C, criteria: [b]}}
"""


def atlas_item(cid: int, **flags: bool) -> dict:
    """An item as ATLAS exports it: the full concept record, captions included, and all three flags."""
    return {"concept": {"CONCEPT_ID": cid, "CONCEPT_NAME": f"concept {cid}", "STANDARD_CONCEPT": "S",
                        "STANDARD_CONCEPT_CAPTION": "Standard", "INVALID_REASON": "V",
                        "INVALID_REASON_CAPTION": "Valid", "CONCEPT_CODE": str(cid), "DOMAIN_ID": "Condition",
                        "VOCABULARY_ID": "SNOMED", "CONCEPT_CLASS_ID": "Clinical Finding"},
            "isExcluded": flags.get("isExcluded", False),
            "includeDescendants": flags.get("includeDescendants", False),
            "includeMapped": flags.get("includeMapped", False)}


ITEMS = [atlas_item(100, includeDescendants=True, includeMapped=True),
         atlas_item(103, isExcluded=True, includeDescendants=True), atlas_item(300)]


def write_case(tmp_path: Path, doc: object, ref: str = "concept_sets/sle.json") -> Path:
    (tmp_path / "concept_sets").mkdir(exist_ok=True)
    (tmp_path / ref).write_text(doc if isinstance(doc, str) else json.dumps(doc, indent="\t"), encoding="utf-8")
    path = tmp_path / "trial.yaml"
    path.write_text(CRITERIA.format(atlas=ref), encoding="utf-8")
    return path


def items_of(path: Path) -> list[tuple]:
    cs = load_criteria(path).model.concept_sets["sle"]
    return [(i.concept_id, i.include_descendants, i.exclude, i.include_mapped) for i in cs.items]


EXPECTED = [(100, True, False, True), (103, True, True, False), (300, False, False, False)]


def test_bare_expression_and_wrapper_give_the_same_items_with_atlas_flags(tmp_path):
    bare = items_of(write_case(tmp_path, {"items": ITEMS}))
    wrapped = items_of(write_case(tmp_path, {"id": 5, "name": "SLE", "expression": {"items": ITEMS}}))
    assert bare == wrapped == EXPECTED


def test_missing_flags_are_false_as_in_circe_and_the_file_hash_is_recorded(tmp_path):
    path = write_case(tmp_path, {"items": [{"concept": {"CONCEPT_ID": 42}}]})
    loaded = load_criteria(path)
    item = loaded.model.concept_sets["sle"].items[0]
    assert (item.concept_id, item.include_descendants, item.exclude, item.include_mapped) == (42, False, False, False)
    assert loaded.model.concept_sets["sle"].atlas == "concept_sets/sle.json"
    digest = hashlib.sha256((tmp_path / "concept_sets/sle.json").read_bytes()).hexdigest()
    assert loaded.includes == {"concept_sets/sle.json": digest}


@pytest.mark.parametrize(("doc", "message"), [
    (None, r"trial.yaml:7: concept_sets.sle.atlas: ATLAS file .*sle.json not found \(the path is relative"),
    ("{not json", r"trial.yaml:7: .*sle.json:1: not valid JSON"),
    ({"ConceptSets": []}, r"expected a concept set expression .* export the concept set itself"),
    ({"items": []}, r"has no items"),
    ({"items": [{"concept": {"CONCEPT_ID": "257628"}}]}, r"items\[0\].concept.CONCEPT_ID: expected a positive"),
    ({"items": [{"concept": {"CONCEPT_ID": 1}, "isExcluded": "yes"}]}, r"items\[0\].isExcluded: expected true"),
    ({"items": [atlas_item(1, isExcluded=True)]}, r"needs at least one item that is not excluded"),
])
def test_a_bad_atlas_file_is_one_criteria_error_naming_file_line_and_item(tmp_path, doc, message):
    path = write_case(tmp_path, {"items": ITEMS})
    if doc is None:
        (tmp_path / "concept_sets/sle.json").unlink()
    else:
        write_case(tmp_path, doc)
    with pytest.raises(CriteriaError, match=message):
        load_criteria(path)


def test_atlas_and_items_together_are_refused(tmp_path):
    path = write_case(tmp_path, {"items": ITEMS})
    path.write_text(path.read_text().replace("    atlas:", "    items: [{concept_id: 1}]\n    atlas:"))
    with pytest.raises(CriteriaError, match=r"trial.yaml:8: concept_sets.sle.atlas: give either atlas or items"):
        load_criteria(path)
