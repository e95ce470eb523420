"""Small driver-side tables (concept-set membership, shipped vocabulary) as DataFrames without Python workers.

`spark.createDataFrame(list)` pickles rows into a Python RDD, so executors must start Python workers to read
them; a pyarrow Table goes to the JVM as Arrow batches instead. These tables hold vocabulary, never person data.
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

ARROW_TYPES = {"string": pa.string(), "long": pa.int64(), "bigint": pa.int64(), "int": pa.int32(),
               "double": pa.float64(), "boolean": pa.bool_(), "date": pa.date32()}


def arrow_schema(ddl: str) -> pa.Schema:
    """'a string, b long' -> a pyarrow schema (the simple types small tables need)."""
    fields = []
    for part in ddl.split(","):
        name, kind = part.split()
        fields.append(pa.field(name, ARROW_TYPES[kind.lower()]))
    return pa.schema(fields)


def local_frame(spark: SparkSession, rows: list[tuple], ddl: str) -> DataFrame:
    schema = arrow_schema(ddl)
    table = pa.Table.from_arrays([pa.array([r[i] for r in rows], type=f.type) for i, f in enumerate(schema)],
                                 schema=schema)
    return spark.createDataFrame(table)
