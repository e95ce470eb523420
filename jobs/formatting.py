"""Text for people, built as Columns (reason codes, evidence)."""

from pyspark.sql import Column
from pyspark.sql import functions as F


def number_text(col: Column) -> Column:
    """At most 2 decimals and no trailing '.0': 2.3, 70.36, 1."""
    return F.regexp_replace(F.round(col, 2).cast("string"), r"\.0$", "")
