"""Explicit Spark schemas for the OMOP CDM tables the job reads, derived from the official spec.

`omop_cdm.json` is generated from OHDSI's field-level CSV by `build_omop_schema.py`; every integer is read
as 64-bit (some warehouses exceed 2^31 ids) and every float as double.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pyspark.sql import types as T

SPEC = Path(__file__).with_name("omop_cdm.json")


@dataclass(frozen=True)
class OmopField:
    name: str
    cdm_type: str
    required: bool
    primary_key: bool
    fk_table: str | None

    @property
    def spark_type(self) -> T.DataType:
        return spark_type(self.cdm_type)


def spark_type(cdm_type: str) -> T.DataType:
    """Map a CDM datatype (`integer`, `float`, `date`, `datetime`, `varchar(n)`) to a Spark type."""
    kind = cdm_type.lower()
    if kind in ("integer", "bigint"):
        return T.LongType()
    if kind == "float":
        return T.DoubleType()
    if kind == "date":
        return T.DateType()
    if kind == "datetime":
        return T.TimestampType()
    if kind.startswith("varchar") or kind == "text":
        return T.StringType()
    raise ValueError(f"unknown CDM datatype {cdm_type!r}")


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


def struct_for(table: str, columns: list[str] | None = None) -> T.StructType:
    """The StructType of `table` restricted to `columns` (all fields when None), in the given order."""
    fields = table_fields(table)
    names = columns if columns is not None else list(fields)
    return T.StructType([T.StructField(n, fields[n].spark_type, True) for n in names])
