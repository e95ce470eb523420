"""Read an OMOP CDM extract (folder of CSV/Parquet, any case, or JDBC) into typed DataFrames.

CSV files are read with every column as a string (no inference) and cast to the CDM types with `try_cast`,
so a value that does not parse becomes null and is *named* in the `_malformed` column rather than failing
the run or vanishing silently. Only the columns a caller asks for are read. The same holds for values that
parse but cannot be evidence: NaN and +-Infinity in a number column, and a CDM `integer` quantity beyond 32
bits (days_supply 99999999999): null, named in `_malformed`. A Parquet/JDBC column whose stored type cannot
hold the CDM type (dates stored as int32 yyyymmdd) is an `InputError` naming table, column and type. Part
folders are read file by file: only data files (.csv, .csv.gz, .parquet ...) are parts, so a README.md or
_SUCCESS beside them is ignored; a table entry that is a dangling symbolic link is an error, not "no such
table".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import jdbc
from jobs.errors import InputError, first_line
from jobs.extract.casts import cast_value, dangling_links, holds
from jobs.redaction import redact
from schemas.omop import known_tables, table_fields

MALFORMED = "_malformed"  # array<string>: the columns of this row whose text did not parse
RECORD = "_record"  # the name `_malformed` carries for a CSV line with the wrong number of fields
ABSENT = "omop_reader_absent"  # StructField metadata key: the column was not in the file and is all null
_CORRUPT = "_corrupt_record"
# CDM 5.4 name -> the CDM 5.3 name of the same column (read transparently from 5.3 extracts).
CDM53_NAMES: dict[str, dict[str, str]] = {
    "visit_occurrence": {
        "admitted_from_concept_id": "admitting_source_concept_id",
        "admitted_from_source_value": "admitting_source_value",
        "discharged_to_concept_id": "discharge_to_concept_id",
        "discharged_to_source_value": "discharge_to_source_value",
    },
    "visit_detail": {
        "admitted_from_concept_id": "admitting_source_concept_id",
        "admitted_from_source_value": "admitting_source_value",
        "discharged_to_concept_id": "discharge_to_concept_id",
        "discharged_to_source_value": "discharge_to_source_value",
        "parent_visit_detail_id": "visit_detail_parent_id",
    },
}
VOCABULARY_TABLES = ("concept", "concept_ancestor", "concept_relationship", "drug_strength")  # read from --vocab-schema
ROWS_PER_PARTITION = 1_000_000  # JDBC reads: one partition per this many rows when --jdbc-partitions is not given
MAX_PARTITIONS = 200
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".txt", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".snappy.parquet")


@dataclass(frozen=True)
class TableLocation:
    table: str
    path: str
    fmt: str  # "csv" | "parquet" | "jdbc"
    empty: bool = False
    delimiter: str = ","
    parts: tuple[str, ...] = ()  # the data files of a part folder (what is read); () for a single file


@dataclass
class ReadReport:
    """What was read, for the manifest: files, formats, absent tables and columns filled with null."""

    tables: dict[str, dict] = field(default_factory=dict)
    missing_tables: list[str] = field(default_factory=list)
    empty_tables: list[str] = field(default_factory=list)
    missing_optional_columns: dict[str, list[str]] = field(default_factory=dict)
    cdm53_columns: dict[str, list[str]] = field(default_factory=dict)  # table -> 5.3 names read as 5.4


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
    """An OMOP extract at `root`: a local/HDFS/S3 folder, or a `jdbc:` URL with `schema` (vocabulary tables from
    `vocab_schema` when given). JDBC reads of person-keyed tables are split on person_id into `partitions`
    ranges (None: one per ROWS_PER_PARTITION rows, from the table's count)."""

    def __init__(self, spark: SparkSession, root: str, jdbc_schema: str | None = None,
                 jdbc_properties: dict[str, str] | None = None, vocab_schema: str | None = None,
                 partitions: int | None = None) -> None:
        self.spark = spark
        self.root = root
        self.jdbc_schema = jdbc_schema
        self.vocab_schema = vocab_schema
        self.partitions = partitions
        self.jdbc_properties = jdbc.with_driver(root, jdbc_properties or {}) if root.startswith("jdbc:") else {}
        self.report = ReadReport()
        self._locations = self._discover_jdbc() if self.is_jdbc else self._discover_files()

    @property
    def is_jdbc(self) -> bool:
        return self.root.startswith("jdbc:")

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
            raise InputError(f"--omop {self.root}: cannot list the folder ({first_line(exc)}).") from None
        wanted = set(known_tables())
        for name in dangling_links(self.root):
            table = _strip_suffix(name)[0]
            if table in wanted:
                raise InputError(f"table {table}: {name} in --omop is a symbolic link to a file that does not "
                                 "exist; fix the link or remove it.")
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
            files: tuple[str, ...] = ()
            if st.isDirectory():
                entries = [s for s in fs.listStatus(st.getPath())
                           if not s.getPath().getName().startswith((".", "_")) and not s.isDirectory()]
                # data files only: a README.md or a checksum beside the parts is not a part
                parts = [s for s in entries if _strip_suffix(s.getPath().getName())[1] is not None]
                kinds = {_strip_suffix(p.getPath().getName())[1] for p in parts}
                if not entries:
                    fmt, empty = "csv", True
                elif len(kinds) != 1:
                    raise InputError(f"table {table}: folder {path} mixes or lacks data files"
                                     f" ({sorted(kinds) or 'none'}); put only .csv(.gz) or only .parquet"
                                     " part files in it.")
                else:
                    fmt = kinds.pop()
                    empty = all(p.getLen() == 0 for p in parts)
                    delim = "\t" if any(".tsv" in p.getPath().getName().lower() for p in parts) else ","
                    files = tuple(sorted(p.getPath().toString() for p in parts))
            elif fmt is None:
                continue
            else:
                empty = st.getLen() == 0
            if table in found:
                raise InputError(f"table {table}: found twice ({found[table].path} and {path}); keep one.")
            found[table] = TableLocation(table, path, fmt, empty, delim, files)
        return found

    def _discover_jdbc(self) -> dict[str, TableLocation]:
        """The schemas' tables, matched to CDM names case-insensitively; a wrong schema is one clear error."""
        if not self.jdbc_schema:
            raise InputError(f"--omop {redact(self.root)}: a jdbc: URL needs --jdbc-schema (the schema of the CDM "
                             "tables)")
        found: dict[str, TableLocation] = {}
        with jdbc.connection(self.spark, self.root, self.jdbc_properties, "listing the CDM tables") as conn:
            cdm = jdbc.find_schema(conn, self.jdbc_schema, self.root, "--jdbc-schema")
            vocab = jdbc.find_schema(conn, self.vocab_schema, self.root, "--vocab-schema") if self.vocab_schema else cdm
            wanted = set(known_tables())
            for schema in dict.fromkeys([cdm, vocab]):
                for name in jdbc.tables(conn, schema):
                    table = name.lower()
                    if table in wanted and (schema == vocab) == (table in VOCABULARY_TABLES or vocab == cdm):
                        found[table] = TableLocation(table, f"{jdbc.quoted(schema)}.{jdbc.quoted(name)}", "jdbc")
        return found

    # ---------------------------------------------------------------- reading
    def has(self, table: str) -> bool:
        loc = self._locations.get(table)
        return loc is not None and not loc.empty

    def location(self, table: str) -> TableLocation | None:
        return self._locations.get(table)

    def read(self, table: str, columns: list[str], required: bool = False,
             keep: tuple[str, list[int]] | None = None) -> DataFrame:
        """Typed DataFrame of `columns` (+ `_malformed`); an absent or empty table gives zero rows.

        `required=True` turns an absent table into an InputError naming it. `keep=(column, ids)` keeps only rows
        whose column is one of the ids, applied to the source's own column so a JDBC or Parquet source filters
        before the rows reach Spark (the caller decides when that is safe).
        """
        fields = table_fields(table)
        unknown = [c for c in columns if c not in fields]
        if unknown:
            raise ValueError(f"{table}: not CDM columns: {unknown}")
        loc = self._locations.get(table)
        if loc is None or loc.empty:
            if required and self.is_jdbc:
                raise InputError(f"table {table}: not found in schema {self.jdbc_schema} of {redact(self.root)};"
                                 " it is required.")
            if required:
                raise InputError(f"table {table}: {'empty' if loc else 'not found'} in {self.root}; it is"
                                 f" required (expected {table}.csv, {table.upper()}.csv, {table}.parquet"
                                 f" or a {table}/ folder).")
            (self.report.empty_tables if loc else self.report.missing_tables).append(table)
            return self._empty(table, columns)
        try:
            raw = self._load(loc)
        except InputError:
            raise
        except Exception as exc:
            if loc.fmt == "jdbc":
                raise InputError(jdbc.describe(exc, self.root, f"table {table} ({loc.path})")) from None
            raise InputError(f"table {table}: cannot read {redact(loc.path)} as {loc.fmt}"
                             f" ({first_line(exc)}); check the file is complete and in the expected"
                             " format.") from None
        if raw is not None and keep is not None:
            lower = {c.lower(): c for c in raw.columns}
            raw = raw.where(F.col(f"`{lower[keep[0]]}`").isin(keep[1])) if keep[0] in lower else raw
        if raw is None:
            if required:
                raise InputError(f"table {table}: {redact(loc.path)} is empty; it is required.")
            self.report.empty_tables.append(table)
            return self._empty(table, columns)
        by_lower = {c.lstrip("\ufeff").strip().strip('"').lower(): c for c in raw.columns if c != _CORRUPT}
        renamed = {new: old for new, old in CDM53_NAMES.get(table, {}).items()
                   if new not in by_lower and old in by_lower}
        out: list[Column] = []
        bad: list[Column] = []
        absent_optional = []
        for name in columns:
            f = fields[name]
            source = renamed.get(name, name)
            if source not in by_lower:
                if f.required:
                    raise InputError(f"table {table}: required column {name} is missing from"
                                     f" {redact(loc.path)} (columns found:"
                                     f" {', '.join(sorted(by_lower)) or 'none'}); add the column or export"
                                     " the table with its CDM header.")
                absent_optional.append(name)
                out.append(F.lit(None).cast(f.spark_type).alias(name, metadata={ABSENT: True}))
                continue
            src = F.col(f"`{by_lower[source]}`")
            stored = raw.schema[by_lower[source]].dataType
            if not holds(stored, f.spark_type):
                raise InputError(f"table {table}: column {name} is stored as {stored.simpleString()} in"
                                 f" {redact(loc.path)}, which cannot hold its CDM type {f.cdm_type}"
                                 + (" (store dates as DATE, or as text YYYY-MM-DD, not yyyymmdd numbers)"
                                    if isinstance(f.spark_type, T.DateType | T.TimestampType) else "") + ".")
            typed = cast_value(src, f.spark_type, int32=f.int32)
            out.append(typed.alias(name))
            if (loc.fmt != "parquet" or stored != f.spark_type or f.int32
                    or isinstance(f.spark_type, T.DoubleType)):
                bad.append(F.when(src.isNotNull() & typed.isNull(), F.lit(name)))
        if _CORRUPT in raw.columns:
            # A line with too many or too few fields: Spark fills `_corrupt_record` only when every column is
            # parsed, so the flag references all of them (this switches CSV column pruning off for the scan).
            every = F.concat_ws("\u0001", *[F.col(f"`{c}`") for c in raw.columns if c != _CORRUPT])
            bad.append(F.when(F.col(_CORRUPT).isNotNull() & (F.length(every) >= 0), F.lit(RECORD)))
        if absent_optional:
            self.report.missing_optional_columns[table] = absent_optional
        if renamed:
            self.report.cdm53_columns[table] = sorted(renamed.values())
        malformed = (F.filter(F.array(*bad), lambda x: x.isNotNull()) if bad
                     else F.array().cast("array<string>"))
        self.report.tables[table] = {**self.report.tables.get(table, {}), "path": redact(loc.path), "format": loc.fmt,
                                     "columns": list(columns)}
        return raw.select(*out, malformed.alias(MALFORMED))

    def _load(self, loc: TableLocation) -> DataFrame | None:
        reader = self.spark.read
        paths = list(loc.parts) or [loc.path]
        if loc.fmt == "parquet":
            return reader.parquet(*paths)
        if loc.fmt == "jdbc":
            return self._load_jdbc(loc)
        options = {"header": True, "sep": loc.delimiter, "quote": '"', "escape": '"', "nullValue": "",
                   "emptyValue": None, "encoding": "UTF-8", "inferSchema": False}
        # First the header alone (one small job), then the file with every column a string plus the corrupt
        # record column, so lines with the wrong number of fields are flagged rather than silently shifted.
        header = reader.options(**options).csv(paths).columns
        if not header:
            return None  # blank lines only: the same as an empty file
        schema = T.StructType([T.StructField(c, T.StringType(), True) for c in header]
                              + [T.StructField(_CORRUPT, T.StringType(), True)])
        return (self.spark.read.schema(schema).options(**options)
                .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", _CORRUPT)
                .option("enforceSchema", True)  # header names were taken from the file itself just above
                .csv(paths))

    def _load_jdbc(self, loc: TableLocation) -> DataFrame:
        """Spark's JDBC source; person-keyed tables in person_id ranges (bounds from min/max), streamed."""
        props = {"fetchsize": "10000", **self.jdbc_properties}
        reader = self.spark.read.format("jdbc").options(url=self.root, dbtable=loc.path, **props)
        if "person_id" not in table_fields(loc.table) or self.partitions == 1:
            return reader.load()
        count = "count(*)" if self.partitions is None else "0"
        bounds = (self.spark.read.format("jdbc")
                  .options(url=self.root, **props,
                           dbtable=f"(SELECT min(person_id) AS lo, max(person_id) AS hi, {count} AS n"
                                   f" FROM {loc.path}) cohort_finder_bounds")
                  .load().first())
        if bounds is None or bounds["lo"] is None:
            return reader.load()
        n = self.partitions or -(-int(bounds["n"]) // ROWS_PER_PARTITION)
        n = max(1, min(MAX_PARTITIONS, n, int(bounds["hi"]) - int(bounds["lo"]) + 1))
        self.report.tables.setdefault(loc.table, {})["jdbc_partitions"] = n
        if n == 1:
            return reader.load()
        return reader.options(partitionColumn="person_id", lowerBound=str(bounds["lo"]),
                              upperBound=str(int(bounds["hi"]) + 1), numPartitions=str(n)).load()

    def _empty(self, table: str, columns: list[str]) -> DataFrame:
        fields = table_fields(table)
        schema = T.StructType([T.StructField(c, fields[c].spark_type, True) for c in columns]
                              + [T.StructField(MALFORMED, T.ArrayType(T.StringType()), True)])
        return self.spark.createDataFrame([], schema)
