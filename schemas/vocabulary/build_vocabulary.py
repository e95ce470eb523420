"""Regenerate the shipped vocabulary subset from the verified concept reference (a maintainer's step).

`concept.csv`: every concept the criteria name that the reference file lists (id, name, domain, vocabulary,
code, standard flag as the sources showed it). `concept_ancestor.csv`: the ancestor rows the product needs
so that a concept set resolves the same on a full vocabulary, a partial one and an empty concept_ancestor
(Synthea ships an empty one): clinical drug products -> their ingredient, 'Normal pregnancy' -> 'Pregnant',
and every descendant form the reference lists (e.g. 'Cirrhosis of liver due to hepatitis B') -> the concept
set item it descends from. The rows live in `ancestor_reference.csv`, each with why and the public source;
both ends must be concepts of the reference, so no id enters the product unverified. `extra_reference.csv`
(same columns as the shared reference, each row with its public source) adds the ids verified for the newer
trials (issue 16).

Run: python schemas/vocabulary/build_vocabulary.py ../shared/reference/concepts/trial_concepts.csv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).parent
ANCESTOR_REFERENCE = HERE / "ancestor_reference.csv"  # ancestor, descendant, levels, why, source
EXTRA_REFERENCE = HERE / "extra_reference.csv"  # verified ids beyond the shared reference, with sources


def read_ancestors(known: set[int]) -> list[tuple[int, int, int, int]]:
    """The reviewed ancestor rows; an id missing from the reference or a row without a source is an error."""
    rows = []
    with ANCESTOR_REFERENCE.open(newline="", encoding="utf-8") as fh:
        for n, r in enumerate(csv.DictReader(fh), start=2):
            anc, desc = int(r["ancestor_concept_id"]), int(r["descendant_concept_id"])
            unknown = [c for c in (anc, desc) if c not in known]
            if unknown or not r["why"].strip() or not r["source"].strip():
                raise SystemExit(f"{ANCESTOR_REFERENCE.name}:{n}: ids not in the reference {unknown} or no why/source")
            rows.append((anc, desc, int(r["min_levels_of_separation"]), int(r["max_levels_of_separation"])))
    return sorted(set(rows))


CONCEPT_COLUMNS = ["concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id",
                   "standard_concept", "concept_code", "valid_start_date", "valid_end_date", "invalid_reason"]


def main(reference: str) -> None:
    seen: dict[int, dict] = {}
    rows = []
    for path in (reference, EXTRA_REFERENCE):
        with open(path, newline="", encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    for row in rows:
        cid = int(row["concept_id"])
        if cid in seen:
            continue
        domain = row["domain_id"].rstrip("?")
        seen[cid] = {
            "concept_id": cid, "concept_name": row["concept_name"], "domain_id": domain,
            "vocabulary_id": row["vocabulary_id"].rstrip("?"), "concept_class_id": "",
            "standard_concept": "S" if row["standard"] == "S" else "",
            "concept_code": row["concept_code"], "valid_start_date": "1970-01-01",
            "valid_end_date": "2099-12-31", "invalid_reason": "",
        }
    with (HERE / "concept.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, CONCEPT_COLUMNS, lineterminator="\n")
        w.writeheader()
        for cid in sorted(seen):
            w.writerow(seen[cid])
    with (HERE / "concept_ancestor.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["ancestor_concept_id", "descendant_concept_id", "min_levels_of_separation",
                    "max_levels_of_separation"])
        ancestors = read_ancestors(set(seen))
        w.writerows(ancestors)
    print(f"wrote {len(seen)} concepts and {len(ancestors)} ancestor rows to {HERE}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/concepts/trial_concepts.csv")
