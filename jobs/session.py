"""The one SparkSession factory. Nothing here runs at import time."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

LOG4J = Path(__file__).with_name("log4j2.properties")

# Settings every run needs, whatever the master. Why each one:
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",  # dates must not shift with the machine's zone
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",  # AQE coalesces the many small post-shuffle partitions
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",  # INT96 is misread by pyarrow
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.task.maxFailures": "4",  # retries are configured, not left to chance
    # outputs readable by the owner only; set before any FileSystem is cached (OutputFS sets it again)
    "spark.hadoop.fs.permissions.umask-mode": "077",
    "spark.sql.autoBroadcastJoinThreshold": str(32 * 1024 * 1024),
    # Whole-stage codegen is switched off for any plan whose schema has more than maxFields (default 100)
    # fields, nested ones included; the evaluated frame's result structs exceed that.
    "spark.sql.codegen.maxFields": "5000",
    # The job's one cache (the lab results, jobs/quality/gate.py) fills faster uncompressed.
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
}
# HotSpot never JIT-compiles a method above 8,000 bytes of bytecode; Spark's generated code for the wide
# quality flags, lab aggregates and criteria projection has such methods (Spark falls back itself only above
# 64 KB), so without this they run in the bytecode interpreter. Figures for all three: tests/benchmarks/README.md.
JVM_OPTIONS = "-XX:-DontCompileHugeMethods"


def with_jvm_options(current: str | None) -> str:
    """`current` Java options plus JVM_OPTIONS (kept once; a user's own options are never dropped)."""
    current = (current or "").strip()
    return current if JVM_OPTIONS in current.split() else f"{current} {JVM_OPTIONS}".strip()


def build_session(
    app_name: str = "cohort-finder",
    master: str | None = None,
    conf: dict[str, str] | None = None,
    driver_memory: str | None = None,
) -> SparkSession:
    """Return a SparkSession; `master=None` keeps what spark-submit set (cluster) or uses local[*]."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    submitted = "spark.master" in _submitted_conf()
    if master is not None:
        builder = builder.master(master)
    elif not submitted:
        builder = builder.master("local[*]")
    settings = dict(BASE_CONF)
    if not submitted or master is not None:
        settings["spark.driver.memory"] = driver_memory or os.environ.get("COHORT_FINDER_DRIVER_MEMORY", "4g")
        settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{LOG4J} {JVM_OPTIONS}"
        settings["spark.sql.shuffle.partitions"] = os.environ.get("COHORT_FINDER_SHUFFLE_PARTITIONS", "8")
    # Executors start after this point, so their options can still be set (appended to spark-submit's).
    settings["spark.executor.extraJavaOptions"] = with_jvm_options(_submitted_value("spark.executor.extraJavaOptions"))
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("COHORT_FINDER_SPARK_LOG_LEVEL", "WARN"))
    return spark


@contextmanager
def described(spark: SparkSession, text: str) -> Iterator[None]:
    """Name the Spark jobs started inside, so the Spark UI and event log say `features: labs`, not
    `parquet at NativeMethodAccessorImpl.java:0`; the previous name is restored afterwards."""
    sc = spark.sparkContext
    previous = sc.getLocalProperty("spark.job.description")
    sc.setJobDescription(text)
    try:
        yield
    finally:
        sc.setLocalProperty("spark.job.description", previous)  # type: ignore[arg-type]  # None clears it


@contextmanager
def expression_codegen(spark: SparkSession) -> Iterator[None]:
    """Plan the actions started inside without whole-stage codegen (each expression still compiled).

    For plans whose one fused method grows too large for the JIT (a cohort's status row: every outcome, three
    id arrays, counts, reasons), which would then run in the bytecode interpreter; per-expression code is
    split into small methods that do compile."""
    key = "spark.sql.codegen.wholeStage"
    previous = spark.conf.get(key)
    spark.conf.set(key, "false")
    try:
        yield
    finally:
        spark.conf.set(key, previous)


def _submitted_value(key: str) -> str | None:
    """A setting spark-submit gave this driver (it passes them as JVM system properties), else None."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return None
    from pyspark import SparkConf

    return SparkConf().get(key, None)


def _submitted_conf() -> dict[str, str]:
    """Non-empty when spark-submit launched this driver: the JVM (and its master) already exist."""
    return {"spark.master": "submitted"} if "PYSPARK_GATEWAY_PORT" in os.environ else {}
