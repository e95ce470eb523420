"""How the reader turns stored values into CDM-typed columns, and which stored types it accepts (split from
reader.py): casts never raise (ANSI mode is on), and values that are no evidence become null."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

INT32 = (-(2**31), 2**31 - 1)
_NUMERIC = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)


def holds(stored: T.DataType, target: T.DataType) -> bool:
    """Whether a stored (Parquet/JDBC) type can carry the CDM type: text always; dates only as dates or
    timestamps; numbers as numbers. An int32 yyyymmdd "date" is not a date."""
    if isinstance(stored, T.StringType | T.NullType) or isinstance(target, T.StringType):
        return True
    if isinstance(target, T.DateType | T.TimestampType | T.TimestampNTZType):
        return isinstance(stored, T.DateType | T.TimestampType | T.TimestampNTZType)
    if isinstance(target, _NUMERIC):
        return isinstance(stored, (*_NUMERIC, T.BooleanType))
    return True


def cast_value(col: Column, target: T.DataType, int32: bool = False) -> Column:
    """Cast without raising (ANSI mode is on in Spark 4): unparseable text becomes null, and so do values
    that are no evidence: NaN/Infinity, and 32-bit quantities out of range (later arithmetic would overflow)."""
    if isinstance(target, T.LongType):
        as_double = col.try_cast("double")
        integral = F.when(as_double == F.floor(as_double), as_double.try_cast("long"))
        value = F.coalesce(col.try_cast("long"), integral)
        return F.when(value.between(*INT32), value) if int32 else value
    if isinstance(target, T.DoubleType):
        value = col.try_cast(target)
        return F.when(~F.isnan(value) & (F.abs(value) != F.lit(float("inf"))), value)
    if isinstance(target, T.StringType):
        return col.cast("string")
    return col.try_cast(target)


def dangling_links(root: str) -> list[str]:
    """Names in a local --omop folder that are symbolic links to nothing (Hadoop's listing skips them)."""
    parsed = urlparse(root)
    if parsed.scheme not in ("", "file"):
        return []
    folder = parsed.path if parsed.scheme else root
    try:
        return sorted(e.name for e in os.scandir(folder) if e.is_symlink() and not os.path.exists(e.path))
    except OSError:
        return []
