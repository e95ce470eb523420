"""Build small OMOP CDM 5.4 extracts by hand, written as real CSV (or Parquet) folders for the reader."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

SPEC = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "omop_cdm.json").read_text())["tables"]
ALL_TABLES = ["person", "observation_period", "death", "condition_occurrence", "drug_exposure",
              "procedure_occurrence", "measurement", "observation", "visit_occurrence", "care_site", "location",
              "cdm_source", "concept", "concept_ancestor", "concept_relationship"]


# a truncated export: measurement without the columns lab criteria read (issue 15.4)
TRUNCATED_MEASUREMENT = ("value_as_number", "unit_concept_id", "unit_source_value", "value_as_concept_id",
                         "range_high")


def drop_columns(path: Path, drop: tuple[str, ...]) -> None:
    """Rewrite a written CSV table without `drop` (as a partial export would have it)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [c for c in reader.fieldnames or [] if c not in drop]
        rows = list(reader)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, header, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def columns(table: str) -> list[str]:
    return [f["name"] for f in SPEC[table]["fields"]]


class Extract:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self._ids: dict[str, int] = defaultdict(int)

    def _id(self, table: str) -> int:
        self._ids[table] += 1
        return self._ids[table]

    def person(self, pid: int, sex: str | None = "female", born: str = "1980-05-01", care_site_id: int | None = None,
               observed: tuple[str, str] | None = ("2015-01-01", "2026-12-31")) -> Extract:
        gender = {"female": 8532, "male": 8507, None: 0}[sex]
        y, m, d = born.split("-")
        self.rows["person"].append({"person_id": pid, "gender_concept_id": gender, "year_of_birth": int(y),
                                    "month_of_birth": int(m), "day_of_birth": int(d),
                                    "birth_datetime": f"{born} 00:00:00", "race_concept_id": 0,
                                    "ethnicity_concept_id": 0, "care_site_id": care_site_id})
        if observed:
            self.rows["observation_period"].append({
                "observation_period_id": self._id("observation_period"), "person_id": pid,
                "observation_period_start_date": observed[0], "observation_period_end_date": observed[1],
                "period_type_concept_id": 44814724})
        return self

    def death(self, pid: int, on: str) -> Extract:
        self.rows["death"].append({"person_id": pid, "death_date": on, "death_type_concept_id": 0})
        return self

    def condition(self, pid: int, concept: int, on: str, visit: int | None = None) -> Extract:
        self.rows["condition_occurrence"].append({
            "condition_occurrence_id": self._id("condition_occurrence"), "person_id": pid,
            "condition_concept_id": concept, "condition_start_date": on, "condition_type_concept_id": 32817,
            "visit_occurrence_id": visit})
        return self

    def observation(self, pid: int, concept: int, on: str, value: float | None = None,
                    value_concept: int | None = None) -> Extract:
        self.rows["observation"].append({
            "observation_id": self._id("observation"), "person_id": pid, "observation_concept_id": concept,
            "observation_date": on, "observation_type_concept_id": 32817, "value_as_number": value,
            "value_as_concept_id": value_concept})
        return self

    def procedure(self, pid: int, concept: int, on: str) -> Extract:
        self.rows["procedure_occurrence"].append({
            "procedure_occurrence_id": self._id("procedure_occurrence"), "person_id": pid,
            "procedure_concept_id": concept, "procedure_date": on, "procedure_type_concept_id": 32817})
        return self

    def drug(self, pid: int, concept: int, start: str, end: str | None = None,
             days_supply: int | None = None, quantity: float | None = None) -> Extract:
        self.rows["drug_exposure"].append({
            "drug_exposure_id": self._id("drug_exposure"), "person_id": pid, "drug_concept_id": concept,
            "drug_exposure_start_date": start, "drug_exposure_end_date": end, "days_supply": days_supply,
            "quantity": quantity, "drug_type_concept_id": 32817})
        return self

    def drug_strength(self, drug: int, ingredient: int, amount: float | None, unit_concept_id: int | None = 8576,
                      invalid_reason: str | None = None) -> Extract:
        """A drug_strength row (an optional table: written only when a test adds rows)."""
        self.rows["drug_strength"].append({
            "drug_concept_id": drug, "ingredient_concept_id": ingredient, "amount_value": amount,
            "amount_unit_concept_id": unit_concept_id, "valid_start_date": "1970-01-01",
            "valid_end_date": "2099-12-31", "invalid_reason": invalid_reason})
        return self

    def lab(self, pid: int, concept: int, on: str, value: float | None = None, unit_concept_id: int | None = 0,
            unit_source: str | None = None, value_concept: int | None = None,
            range_high: float | None = None) -> Extract:
        self.rows["measurement"].append({
            "measurement_id": self._id("measurement"), "person_id": pid, "measurement_concept_id": concept,
            "measurement_date": on, "measurement_type_concept_id": 32817, "value_as_number": value,
            "value_as_concept_id": value_concept, "unit_concept_id": unit_concept_id,
            "unit_source_value": unit_source, "range_high": range_high})
        return self

    def visit(self, pid: int, on: str, concept: int = 9202, end: str | None = None, vid: int | None = None) -> Extract:
        self.rows["visit_occurrence"].append({
            "visit_occurrence_id": vid or self._id("visit_occurrence"), "person_id": pid, "visit_concept_id": concept,
            "visit_start_date": on, "visit_end_date": end or on, "visit_type_concept_id": 32817})
        return self

    def concept(self, concept_id: int, vocabulary: str, code: str, name: str = "test concept") -> Extract:
        self.rows["concept"].append({
            "concept_id": concept_id, "concept_name": name, "domain_id": "Measurement", "vocabulary_id": vocabulary,
            "concept_class_id": "Lab Test", "standard_concept": "S", "concept_code": code,
            "valid_start_date": "1970-01-01", "valid_end_date": "2099-12-31"})
        return self

    def ancestor(self, ancestor: int, descendant: int) -> Extract:
        self.rows["concept_ancestor"].append({
            "ancestor_concept_id": ancestor, "descendant_concept_id": descendant, "min_levels_of_separation": 1,
            "max_levels_of_separation": 1})
        return self

    def maps_to(self, source: int, target: int, invalid_reason: str | None = None) -> Extract:
        """A concept_relationship 'Maps to' row: `source` (e.g. an ICD10CM code) maps to the standard `target`."""
        self.rows["concept_relationship"].append({
            "concept_id_1": source, "concept_id_2": target, "relationship_id": "Maps to",
            "valid_start_date": "1970-01-01", "valid_end_date": "2099-12-31", "invalid_reason": invalid_reason})
        return self

    def care_site(self, care_site_id: int, name: str) -> Extract:
        self.rows["care_site"].append({"care_site_id": care_site_id, "care_site_name": name})
        return self

    def write(self, folder: Path, upper: bool = False, tables: list[str] | None = None) -> Path:
        """Every table as <name>.csv with its full CDM header (empty tables have a header only)."""
        folder.mkdir(parents=True, exist_ok=True)
        extra = [t for t in sorted(self.rows) if t not in ALL_TABLES and self.rows[t]]
        for table in tables or [*ALL_TABLES, *extra]:
            cols = columns(table)
            name = (table.upper() if upper else table) + ".csv"
            with (folder / name).open("w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, cols, extrasaction="raise", lineterminator="\n")
                w.writeheader()
                for row in self.rows.get(table, []):
                    w.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in cols})
        return folder
