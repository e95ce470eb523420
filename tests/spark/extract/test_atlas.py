"""An ATLAS concept set resolves to the same members as the set written inline, with circe's semantics.

Hand-built vocabulary (ids are arbitrary test ids):
  100 standard parent -> 101 child -> 102 grandchild      (concept_ancestor)
  103 child of 100, excluded with its descendant 104
  200 --Maps to--> 101 (valid)      201 --Maps to--> 100 (invalid_reason D: not followed)
  202 --Maps to--> 103 (the excluded item also has includeMapped: 202 is removed)
  300 included alone; its descendant 301 is not (no includeDescendants)
"""

from __future__ import annotations

import json

import pytest

from jobs.extract.reader import OmopExtract
from jobs.extract.vocabulary import resolve_concept_sets
from jobs.rules.loader import load_criteria
from tests.support.omop_builder import Extract
from tests.unit.rules.test_atlas import CRITERIA, atlas_item

INLINE = CRITERIA.replace("    atlas: {atlas}\n", """\
    items:
      - {{concept_id: 100, include_descendants: true, include_mapped: true}}
      - {{concept_id: 103, include_descendants: true, exclude: true, include_mapped: true}}
      - {{concept_id: 300, include_descendants: false}}
""")
ITEMS = [atlas_item(100, includeDescendants=True, includeMapped=True),
         atlas_item(103, isExcluded=True, includeDescendants=True, includeMapped=True), atlas_item(300)]


def vocabulary(with_relationships: bool = True) -> Extract:
    x = Extract().person(1)
    for a, d in [(100, 101), (100, 102), (101, 102), (100, 103), (100, 104), (103, 104), (300, 301)]:
        x.ancestor(a, d)
    if with_relationships:
        x.maps_to(200, 101).maps_to(201, 100, invalid_reason="D").maps_to(202, 103)
    return x


@pytest.fixture(scope="module")
def criteria_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("atlas")
    (tmp / "concept_sets").mkdir()
    (tmp / "concept_sets/sle.json").write_text(json.dumps({"id": 7, "name": "SLE", "expression": {"items": ITEMS}}))
    (tmp / "atlas.yaml").write_text(CRITERIA.format(atlas="concept_sets/sle.json"))
    (tmp / "inline.yaml").write_text(INLINE.format())
    return tmp, load_criteria(tmp / "atlas.yaml").model, load_criteria(tmp / "inline.yaml").model


def test_atlas_members_equal_the_inline_set_and_follow_maps_to(spark, criteria_files):
    tmp, atlas, inline = criteria_files
    extract = OmopExtract(spark, str(vocabulary().write(tmp / "omop")))
    from_atlas = resolve_concept_sets(spark, atlas, extract)
    from_inline = resolve_concept_sets(spark, inline, extract)
    assert from_atlas.ids("sle") == from_inline.ids("sle") == [100, 101, 102, 200, 300]
    assert from_atlas.mapped_unavailable == []


def test_without_concept_relationship_include_mapped_adds_nothing_and_is_reported(spark, criteria_files):
    tmp, atlas, _ = criteria_files
    tables = ["person", "concept_ancestor"]  # an extract without concept_relationship
    extract = OmopExtract(spark, str(vocabulary(with_relationships=False).write(tmp / "omop_nomap", tables=tables)))
    resolved = resolve_concept_sets(spark, atlas, extract)
    assert resolved.ids("sle") == [100, 101, 102, 300]
    assert resolved.to_manifest()["include_mapped_without_concept_relationship"] == ["sle"]
