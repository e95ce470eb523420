"""Column and frame helpers every stage uses: readable numbers in evidence text, small driver-side tables."""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema


def number_text(col: Column) -> Column:
    """At most 2 decimals and no trailing '.0': 2.3, 70.36, 1."""
    return F.regexp_replace(F.round(col, 2).cast("string"), r"\.0$", "")


def local_frame(spark: SparkSession, rows: list[tuple], ddl: str) -> DataFrame:
    """A small driver-side table (vocabulary, lookups, one row of metrics; never person data) as a DataFrame.

    Sent as Arrow batches: `createDataFrame(list)` pickles rows into a Python RDD, so executors would have to
    start Python workers just to read them. The Arrow types are Spark's own mapping of the DDL's types."""
    schema = to_arrow_schema(T.StructType.fromDDL(ddl))
    table = pa.Table.from_arrays([pa.array([r[i] for r in rows], type=f.type) for i, f in enumerate(schema)],
                                 schema=schema)
    return spark.createDataFrame(table)
