"""Regenerate `omop_cdm.json` from the official OMOP CDM field-level specs (5.4, with 5.3 differences).

Run by a maintainer when the spec changes: `python schemas/build_omop_schema.py ../shared/reference/omop_cdm`.
The product reads only the JSON, so nothing outside the repo is needed at run time.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

TABLES = [
    "person", "observation_period", "death", "condition_occurrence", "drug_exposure",
    "procedure_occurrence", "measurement", "observation", "visit_occurrence", "care_site",
    "location", "cdm_source", "concept", "concept_ancestor", "drug_strength", "concept_relationship",
]


def _fields(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            table = row["cdmTableName"].strip().lower()
            if table not in TABLES:
                continue
            out.setdefault(table, []).append({
                "name": row["cdmFieldName"].strip().lower(),
                "cdm_type": row["cdmDatatype"].strip().lower(),
                "required": row["isRequired"].strip().lower() == "yes",
                "primary_key": row["isPrimaryKey"].strip().lower() == "yes",
                "fk_table": (row["fkTableName"].strip().lower() if row["isForeignKey"].strip().lower() == "yes"
                             else None),
            })
    return out


def main(spec_dir: str) -> None:
    root = Path(spec_dir)
    v54 = _fields(root / "OMOP_CDMv5.4_Field_Level.csv")
    v53 = _fields(root / "OMOP_CDMv5.3_Field_Level.csv")
    doc = {"source": "OHDSI CommonDataModel OMOP_CDMv5.4_Field_Level.csv (+5.3)", "tables": {}}
    for table in TABLES:
        names54 = {f["name"] for f in v54[table]}
        only53 = [f for f in v53.get(table, []) if f["name"] not in names54]
        doc["tables"][table] = {"fields": v54[table], "cdm53_only_fields": only53}
    out = Path(__file__).with_name("omop_cdm.json")
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(TABLES)} tables)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/omop_cdm")
