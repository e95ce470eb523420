"""ATLAS concept set expressions (OHDSI circe-be's `ConceptSetExpression` JSON) as concept set items.

Two shapes are exported: the bare expression `{"items": [...]}` (ATLAS "Export" / WebAPI), and the wrapper
`{"id": .., "name": .., "expression": {"items": [...]}}` (one entry of a cohort definition's `ConceptSets`).
Each item is `{"concept": {"CONCEPT_ID": ..}, "isExcluded", "includeDescendants", "includeMapped"}`; as in
circe, a missing flag is false and unknown keys (CONCEPT_NAME, captions, ...) are ignored. Resolution follows
circe (jobs/extract/vocabulary.py). No Spark here: the loader expands a file into items before validation.
"""

from __future__ import annotations

import json
from pathlib import Path

FLAGS = {"isExcluded": "exclude", "includeDescendants": "include_descendants", "includeMapped": "include_mapped"}


class AtlasError(ValueError):
    """The file is not an ATLAS concept set expression; the message names the item and key."""


def atlas_items(path: Path) -> list[dict]:
    """ConceptItem fields (concept_id, exclude, include_descendants, include_mapped, name) per ATLAS item."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise AtlasError(f"ATLAS file {path} not found (the path is relative to the criteria file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AtlasError(f"ATLAS file {path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise AtlasError(f"ATLAS file {path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    items = _items_of(doc)
    if items is None:
        raise AtlasError(f"ATLAS file {path}: expected a concept set expression ({{\"items\": [...]}} or "
                         "{\"expression\": {\"items\": [...]}}); a cohort definition holds several, export the "
                         "concept set itself")
    if not items:
        raise AtlasError(f"ATLAS file {path}: the concept set expression has no items")
    return [_item(path, i, it) for i, it in enumerate(items)]


def _items_of(doc: object) -> list | None:
    if isinstance(doc, dict) and isinstance(doc.get("expression"), dict):
        doc = doc["expression"]
    if isinstance(doc, dict) and isinstance(doc.get("items"), list):
        return doc["items"]
    return None


def _item(path: Path, i: int, it: object) -> dict:
    where = f"ATLAS file {path}: items[{i}]"
    concept = it.get("concept") if isinstance(it, dict) else None
    if not isinstance(concept, dict):
        raise AtlasError(f"{where}: expected an object with a `concept`")
    cid = concept.get("CONCEPT_ID")
    if isinstance(cid, bool) or not isinstance(cid, int) or cid <= 0:
        raise AtlasError(f"{where}.concept.CONCEPT_ID: expected a positive integer, got {cid!r}")
    out: dict = {"concept_id": cid, "exclude": False, "include_descendants": False, "include_mapped": False}
    for key, name in FLAGS.items():
        value = it.get(key, False)
        if not isinstance(value, bool):
            raise AtlasError(f"{where}.{key}: expected true or false, got {value!r}")
        out[name] = value
    if isinstance(concept.get("CONCEPT_NAME"), str):
        out["name"] = concept["CONCEPT_NAME"]
    return out
