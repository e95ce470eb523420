"""OMOP 5.4 table shapes for the generator and the writers that put them on disk (CSV or Parquet).

The column list and types come from `schemas/omop.py` (OHDSI's field-level spec and the one CDM type
mapping), so the generator needs neither a Spark session nor the reader. Every table is written with all of its 5.4
columns in spec order; columns a builder does not fill are null (an empty string in CSV).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from schemas.omop import cdm54_fields

EPOCH = np.datetime64("1970-01-01", "D")

TABLES: tuple[str, ...] = (
    "person",
    "observation_period",
    "death",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "measurement",
    "observation",
    "visit_occurrence",
    "care_site",
    "location",
    "cdm_source",
    "concept",
    "concept_ancestor",
    "drug_strength",
)
# Tables whose rows grow with the population (written per chunk); the rest are written once.
PERSON_TABLES: tuple[str, ...] = TABLES[:9]


@cache
def schema(table: str) -> pa.Schema:
    """Arrow schema of an OMOP 5.4 table: int64 ids, float64 values, date32 dates, timestamp[us]."""
    return pa.schema([pa.field(f.name, f.arrow_type) for f in cdm54_fields(table)])


def date_array(days: np.ndarray) -> pa.Array:
    """Days since 1970-01-01 (int) -> date32."""
    return pa.array(np.asarray(days, dtype=np.int32), pa.int32()).cast(pa.date32())


def datetime_array(days: np.ndarray, seconds: np.ndarray | None = None) -> pa.Array:
    """Days since epoch (+ seconds into the day) -> timestamp[us]."""
    us = np.asarray(days, dtype=np.int64) * 86_400_000_000
    if seconds is not None:
        us = us + np.asarray(seconds, dtype=np.int64) * 1_000_000
    return pa.array(us, pa.int64()).cast(pa.timestamp("us"))


def masked(values: np.ndarray, null: np.ndarray | None, typ: pa.DataType | None = None) -> pa.Array:
    """A nullable Arrow array from numpy values and a null mask."""
    return pa.array(values, typ or pa.int64(), mask=null)


def build(table: str, n: int, cols: dict[str, object]) -> pa.Table:
    """A table with every 5.4 column: given columns cast to the spec type, the rest null."""
    sch = schema(table)
    unknown = set(cols) - set(sch.names)
    if unknown:
        raise ValueError(f"{table}: not OMOP 5.4 columns: {sorted(unknown)}")
    arrays = []
    for f in sch:
        v = cols.get(f.name)
        if v is None:
            arrays.append(pa.nulls(n, f.type))
            continue
        arr = v if isinstance(v, pa.Array | pa.ChunkedArray) else pa.array(v)
        if len(arr) != n:
            raise ValueError(f"{table}.{f.name}: {len(arr)} values for {n} rows")
        arrays.append(arr.cast(f.type))
    return pa.table(arrays, schema=sch)


class ExtractWriter:
    """Writes tables as `<table>.csv`, `<table>/part-NNNNN.csv` or `<table>/part-NNNNN.parquet`.

    Why parts: chunks of a large population are written as they are made, so memory stays bounded.
    """

    def __init__(self, root: Path, fmt: str, upper_case_names: bool, parts: bool) -> None:
        self.root, self.fmt, self.upper, self.parts = root, fmt, upper_case_names, parts or fmt == "parquet"
        self.rows: dict[str, int] = {}
        self.bytes = 0
        root.mkdir(parents=True, exist_ok=True)

    def _name(self, table: str) -> str:
        return table.upper() if self.upper else table

    def write(self, table: str, data: pa.Table, part: int = 0) -> None:
        """Write one part of a table (the only part for the once-written tables)."""
        if self.upper:
            data = data.rename_columns([c.upper() for c in data.column_names])
        ext = "parquet" if self.fmt == "parquet" else "csv"
        if self.parts:
            folder = self.root / self._name(table)
            folder.mkdir(exist_ok=True)
            path = folder / f"part-{part:05d}.{ext}"
        else:
            path = self.root / f"{self._name(table)}.{ext}"
        if ext == "parquet":
            pq.write_table(data, path, compression="snappy", coerce_timestamps="us")
        else:
            path.write_bytes(csv_bytes(data))
        self.rows[table] = self.rows.get(table, 0) + data.num_rows
        self.bytes += path.stat().st_size


def csv_bytes(data: pa.Table) -> bytes:
    """CSV text: unquoted header, nulls as empty fields, datetimes as `YYYY-MM-DD HH:MM:SS`."""
    cols = []
    for name in data.column_names:
        col = data[name]
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col.cast(pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
        cols.append(col)
    table = pa.table(cols, names=data.column_names)
    buf = io.BytesIO()
    buf.write((",".join(data.column_names) + "\n").encode("utf-8"))
    if table.num_rows:
        pcsv.write_csv(table, buf, pcsv.WriteOptions(include_header=False, quoting_style="needed"))
    return buf.getvalue()
