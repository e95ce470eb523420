"""Explicit schemas for the OMOP CDM tables the job reads, derived from the official spec.

`omop_cdm.json` is generated from OHDSI's field-level CSV by `build_omop_schema.py`. `CDM_TYPES` is the one
mapping from a CDM datatype to the Spark type the reader casts to and the Arrow type the synthetic writer
uses: every integer is 64-bit (some warehouses exceed 2^31 ids), every float a double.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa
from pyspark.sql import types as T

SPEC = Path(__file__).with_name("omop_cdm.json")


@dataclass(frozen=True)
class CdmType:
    spark: T.DataType
    arrow: pa.DataType


CDM_TYPES: dict[str, CdmType] = {
    "integer": CdmType(T.LongType(), pa.int64()),
    "bigint": CdmType(T.LongType(), pa.int64()),
    "float": CdmType(T.DoubleType(), pa.float64()),
    "date": CdmType(T.DateType(), pa.date32()),
    "datetime": CdmType(T.TimestampType(), pa.timestamp("us")),
    "varchar": CdmType(T.StringType(), pa.string()),
}


def cdm_type(name: str) -> CdmType:
    """The types of a CDM datatype (`integer`, `float`, `date`, `datetime`, `varchar(n)`, `text`)."""
    kind = name.lower()
    if kind.startswith("varchar") or kind == "text":
        kind = "varchar"
    if kind not in CDM_TYPES:
        raise ValueError(f"unknown CDM datatype {name!r}")
    return CDM_TYPES[kind]


@dataclass(frozen=True)
class OmopField:
    name: str
    cdm_type: str
    required: bool
    primary_key: bool
    fk_table: str | None

    @property
    def spark_type(self) -> T.DataType:
        return cdm_type(self.cdm_type).spark

    @property
    def int32(self) -> bool:
        """A CDM `integer` that is a quantity, not an id (days_supply, year_of_birth ...): 32-bit as the CDM
        says. Ids stay 64-bit (read as long, see above)."""
        return self.cdm_type.lower() == "integer" and not self.name.endswith("_id")

    @property
    def arrow_type(self) -> pa.DataType:
        return cdm_type(self.cdm_type).arrow


@cache
def _spec() -> dict:
    return json.loads(SPEC.read_text(encoding="utf-8"))["tables"]


def known_tables() -> list[str]:
    return list(_spec())


def table_fields(table: str) -> dict[str, OmopField]:
    """Fields of a CDM table by lower-case name: the 5.4 fields plus fields only 5.3 has."""
    entry = _spec()[table]
    fields = [OmopField(**f) for f in entry["fields"]]
    fields += [OmopField(**{**f, "required": False}) for f in entry["cdm53_only_fields"]]
    return {f.name: f for f in fields}


def cdm54_fields(table: str) -> list[OmopField]:
    """The 5.4 fields of a table in spec order (what a 5.4 writer puts in every file)."""
    return [OmopField(**f) for f in _spec()[table]["fields"]]
