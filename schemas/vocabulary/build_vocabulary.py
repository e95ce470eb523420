"""Regenerate the shipped vocabulary subset from the verified concept reference (a maintainer's step).

`concept.csv`: every concept the criteria name that the reference file lists (id, name, domain, vocabulary,
code, standard flag as the sources showed it). `concept_ancestor.csv`: the few ancestor rows the product
needs to complete an extract whose vocabulary is partial (Synthea ships an empty concept_ancestor): clinical
drug products -> their ingredient, and 'Normal pregnancy' -> 'Pregnant'. Each row is justified by the names
in the reference (a product's name states its ingredient), see ANCESTORS below.

Run: python schemas/vocabulary/build_vocabulary.py ../shared/reference/concepts/trial_concepts.csv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).parent

# (ancestor ingredient/parent, descendant, min_levels, max_levels, why)
ANCESTORS = [
    (1308216, 19080128, 2, 2, "lisinopril 10 MG Oral Tablet has ingredient lisinopril"),
    (1308216, 19080129, 2, 2, "lisinopril 20 MG Oral Tablet has ingredient lisinopril"),
    (1367500, 40185280, 2, 2, "losartan potassium 25 MG Oral Tablet has ingredient losartan"),
    (1367500, 40185304, 2, 2, "losartan potassium 50 MG Oral Tablet has ingredient losartan"),
    (19010482, 19010522, 2, 2, "cyclosporine, modified 100 MG Oral Capsule has ingredient cyclosporine"),
    (1551099, 1551170, 2, 2, "prednisone 20 MG Oral Tablet has ingredient prednisone"),
    (1551099, 1551192, 2, 2, "prednisone 5 MG Oral Tablet has ingredient prednisone"),
    (950637, 19010292, 2, 2, "1 ML Tacrolimus 5 MG/ML Injection [Prograf] has ingredient tacrolimus"),
    (1305058, 19007332, 2, 2, "methotrexate 2.5 MG Oral Tablet has ingredient methotrexate"),
    (1310317, 35606514, 2, 2, "cyclophosphamide 1000 MG Injection has ingredient cyclophosphamide"),
    (1777087, 40184084, 2, 2, "hydroxychloroquine sulfate 200 MG Oral Tablet has ingredient hydroxychloroquine"),
    (4299535, 4217975, 1, 1, "Normal pregnancy Is a Pregnant (Synthea27Nj vocabulary, NOTES.md)"),
]

CONCEPT_COLUMNS = ["concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id",
                   "standard_concept", "concept_code", "valid_start_date", "valid_end_date", "invalid_reason"]


def main(reference: str) -> None:
    seen: dict[int, dict] = {}
    with open(reference, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
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
        for anc, desc, lo, hi, _why in ANCESTORS:
            w.writerow([anc, desc, lo, hi])
    print(f"wrote {len(seen)} concepts and {len(ANCESTORS)} ancestor rows to {HERE}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/concepts/trial_concepts.csv")
