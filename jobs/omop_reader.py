"""Read an OMOP CDM extract (folder of CSV/Parquet, any case, or JDBC) into typed DataFrames.

CSV files are read with every column as a string (no inference) and cast to the CDM types with `try_cast`,
so a value that does not parse becomes null and is *named* in the `_malformed` column rather than failing
the run or vanishing silently. Only the columns a caller asks for are read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.errors import InputError
from schemas.omop import known_tables, table_fields

MALFORMED = "_malformed"  # array<string>: the columns of this row whose text did not parse
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".txt", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".snappy.parquet")


@dataclass(frozen=True)
class TableLocation:
    table: str
    path: str
    fmt: str  # "csv" | "parquet" | "jdbc"
    empty: bool = False
    delimiter: str = ","


@dataclass
class ReadReport:
    """What was read, for the manifest: files, formats, absent tables and columns filled with null."""

    tables: dict[str, dict] = field(default_factory=dict)
    missing_tables: list[str] = field(default_factory=list)
    empty_tables: list[str] = field(default_factory=list)
    missing_optional_columns: dict[str, list[str]] = field(default_factory=dict)


def _strip_suffix(name: str) -> tuple[str, str | None, str]:
    lower = name.lower()
    for suffix in PARQUET_SUFFIXES:
        if lower.endswith(suffix):
            return lower[: -len(suffix)], "parquet", ","
    for suffix in CSV_SUFFIXES:
        if lower.endswith(suffix):
            return lower[: -len(suffix)], "csv", "\t" if ".tsv" in suffix else ","
    return lower, None, ","


class OmopExtract:
    """An OMOP extract at `root`: a local/HDFS/S3 folder, or a `jdbc:` URL with `schema`."""

    def __init__(self, spark: SparkSession, root: str, jdbc_schema: str | None = None,
                 jdbc_properties: dict[str, str] | None = None) -> None:
        self.spark = spark
        self.root = root
        self.jdbc_schema = jdbc_schema
        self.jdbc_properties = jdbc_properties or {}
        self.report = ReadReport()
        self._locations = self._discover_jdbc() if root.startswith("jdbc:") else self._discover_files()

    # ---------------------------------------------------------------- discovery
    def _hadoop_fs(self, path: str):
        jvm = self.spark.sparkContext._jvm
        hpath = jvm.org.apache.hadoop.fs.Path(path)
        return hpath, hpath.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration())

    def _discover_files(self) -> dict[str, TableLocation]:
        try:
            hroot, fs = self._hadoop_fs(self.root)
            if not fs.exists(hroot) or not fs.getFileStatus(hroot).isDirectory():
                raise InputError(f"--omop {self.root}: not a folder. Give the folder that holds person.csv "
                                 "(or PERSON.csv, person.parquet, person/ ...).")
            statuses = list(fs.listStatus(hroot))
        except InputError:
            raise
        except Exception as exc:  # py4j errors carry a Java stack; say what failed instead
            raise InputError(f"--omop {self.root}: cannot list the folder ({_first_line(exc)}).") from None
        wanted = set(known_tables())
        found: dict[str, TableLocation] = {}
        for st in statuses:
            name = st.getPath().getName()
            if name.startswith((".", "_")):
                continue
            table, fmt, delim = _strip_suffix(name)
            if table not in wanted:
                continue
            path = st.getPath().toString()
            empty = False
            if st.isDirectory():
                parts = [s for s in fs.listStatus(st.getPath()) if not s.getPath().getName().startswith((".", "_"))]
                kinds = {_strip_suffix(p.getPath().getName())[1] for p in parts}
                kinds.discard(None)
                if not parts:
                    fmt, empty = "csv", True
                elif len(kinds) != 1:
                    raise InputError(f"table {table}: folder {path} mixes or lacks file types ({sorted(kinds) or 'none'});"
                                     " put only .csv(.gz) or only .parquet part files in it.")
                else:
                    fmt = kinds.pop()
                    empty = all(p.getLen() == 0 for p in parts)
                    delim = "\t" if any(".tsv" in p.getPath().getName().lower() for p in parts) else ","
            elif fmt is None:
                continue
            else:
                empty = st.getLen() == 0
            if table in found:
                raise InputError(f"table {table}: found twice ({found[table].path} and {path}); keep one.")
            found[table] = TableLocation(table, path, fmt, empty, delim)
        return found

    def _discover_jdbc(self) -> dict[str, TableLocation]:
        prefix = f"{self.jdbc_schema}." if self.jdbc_schema else ""
        return {t: TableLocation(t, prefix + t, "jdbc") for t in known_tables()}

    # ---------------------------------------------------------------- reading
    def has(self, table: str) -> bool:
        loc = self._locations.get(table)
        return loc is not None and not loc.empty

    def location(self, table: str) -> TableLocation | None:
        return self._locations.get(table)

    def read(self, table: str, columns: list[str], required: bool = False) -> DataFrame:
        """Typed DataFrame of `columns` (+ `_malformed`); an absent or empty table gives zero rows.

        `required=True` turns an absent table into an InputError naming it.
        """
        fields = table_fields(table)
        unknown = [c for c in columns if c not in fields]
        if unknown:
            raise ValueError(f"{table}: not CDM columns: {unknown}")
        loc = self._locations.get(table)
        if loc is None or loc.empty:
            if required:
                raise InputError(f"table {table}: {'empty' if loc else 'not found'} in {self.root}; it is required"
                                 f" (expected {table}.csv, {table.upper()}.csv, {table}.parquet or a {table}/ folder).")
            (self.report.empty_tables if loc else self.report.missing_tables).append(table)
            return self._empty(table, columns)
        try:
            raw = self._load(loc)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"table {table}: cannot read {loc.path} as {loc.fmt} ({_first_line(exc)}).") from None
        by_lower = {c.lstrip("\ufeff").strip().strip('"').lower(): c for c in raw.columns}
        out: list[Column] = []
        bad: list[Column] = []
        absent_optional = []
        for name in columns:
            f = fields[name]
            if name not in by_lower:
                if f.required:
                    raise InputError(f"table {table}: required column {name} is missing from {loc.path}"
                                     f" (columns found: {', '.join(sorted(by_lower)) or 'none'}).")
                absent_optional.append(name)
                out.append(F.lit(None).cast(f.spark_type).alias(name))
                continue
            src = F.col(f"`{by_lower[name]}`")
            typed = _cast(src, f.spark_type)
            out.append(typed.alias(name))
            if loc.fmt != "parquet" or raw.schema[by_lower[name]].dataType != f.spark_type:
                bad.append(F.when(src.isNotNull() & typed.isNull(), F.lit(name)))
        if absent_optional:
            self.report.missing_optional_columns[table] = absent_optional
        malformed = F.filter(F.array(*bad), lambda x: x.isNotNull()) if bad else F.array().cast("array<string>")
        self.report.tables[table] = {"path": _display(loc.path), "format": loc.fmt, "columns": list(columns)}
        return raw.select(*out, malformed.alias(MALFORMED))

    def _load(self, loc: TableLocation) -> DataFrame:
        reader = self.spark.read
        if loc.fmt == "parquet":
            return reader.parquet(loc.path)
        if loc.fmt == "jdbc":
            props = dict(self.jdbc_properties)
            return reader.format("jdbc").options(url=self.root, dbtable=loc.path, **props).load()
        return (reader.option("header", True)
                .option("inferSchema", False)  # every column stays a string; we cast explicitly
                .option("sep", loc.delimiter)
                .option("quote", '"').option("escape", '"')
                .option("mode", "PERMISSIVE")
                .option("nullValue", "")
                .option("emptyValue", None)
                .option("encoding", "UTF-8")
                .csv(loc.path))

    def _empty(self, table: str, columns: list[str]) -> DataFrame:
        fields = table_fields(table)
        schema = T.StructType([T.StructField(c, fields[c].spark_type, True) for c in columns]
                              + [T.StructField(MALFORMED, T.ArrayType(T.StringType()), True)])
        return self.spark.createDataFrame([], schema)


def _cast(col: Column, target: T.DataType) -> Column:
    """Cast without raising (ANSI mode is on in Spark 4): unparseable text becomes null."""
    if isinstance(target, T.LongType):
        as_double = col.try_cast("double")
        integral = F.when(as_double == F.floor(as_double), as_double.try_cast("long"))
        return F.coalesce(col.try_cast("long"), integral)
    if isinstance(target, T.StringType):
        return col.cast("string")
    return col.try_cast(target)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    line = next((ln for ln in text if ln.strip()), type(exc).__name__)
    return line[:300]


def _display(path: str) -> str:
    """Paths in the manifest without credentials a URL might carry."""
    if "@" in path and "://" in path:
        scheme, rest = path.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return path.replace(os.path.expanduser("~"), "~") if path.startswith(str(Path.home())) else path
