"""The session factory's helpers (jobs.session)."""

from __future__ import annotations

import pytest

from jobs.session import expression_codegen

KEY = "spark.sql.codegen.wholeStage"


def _fused(spark) -> bool:
    df = spark.range(10).selectExpr("id * 2 as x").where("x > 4")
    return df._jdf.queryExecution().executedPlan().getClass().getSimpleName() == "WholeStageCodegenExec"


@pytest.mark.spark
def test_expression_codegen_plans_without_fused_stages_and_restores_the_setting(spark):
    before = spark.conf.get(KEY)
    assert _fused(spark)
    with expression_codegen(spark):
        assert spark.conf.get(KEY) == "false" and not _fused(spark)
    assert spark.conf.get(KEY) == before and _fused(spark)
    with pytest.raises(RuntimeError), expression_codegen(spark):
        raise RuntimeError("a failed action inside")
    assert spark.conf.get(KEY) == before


JVM_TEXTS = (
    "connect jdbc:postgresql://h:5432/db?user=alice&password=S3cr3tPW&ssl=true failed",
    "url jdbc:oracle:thin:scott/T1gerPW@host:1521/x and https://bob:Hunter2PW@example.org/p",
    'options {"password": "JsonPW9", "fs.s3a.secret.key=AbcPW"}',
)


@pytest.mark.spark
def test_jvm_log_lines_and_stacks_are_scrubbed_like_python_messages(spark):
    """Spark and the JDBC drivers log on the JVM side, outside Python's log filter: the shipped log4j2 layout
    (the console appender of the session's own log4j configuration) masks the same credential forms as
    jobs.redaction.scrub, in messages and in exception stacks."""
    from jobs.redaction import scrub

    jvm = spark.sparkContext._jvm
    log4j = jvm.org.apache.logging.log4j
    layout = log4j.LogManager.getContext(False).getConfiguration().getAppender("console").getLayout()

    def formatted(text: str, thrown=None) -> str:
        event = (log4j.core.impl.Log4jLogEvent.newBuilder().setLoggerName("cohort_finder.test")
                 .setLevel(log4j.Level.ERROR).setMessage(log4j.message.SimpleMessage(text)))
        if thrown is not None:
            event = event.setThrown(thrown)
        return layout.toSerializable(event.build())

    for text in JVM_TEXTS:
        line = formatted(text)
        assert line.split(" ERROR test: ", 1)[1].rstrip("\n") == scrub(text)
        assert "PW" not in line
    stack = formatted("failed", jvm.java.lang.RuntimeException("jdbc:hive2://h:1/db;user=u;password=StackPW"))
    assert "java.lang.RuntimeException: jdbc:hive2://h:1/db;user=***;password=***" in stack
    assert "StackPW" not in stack and "\tat " in stack  # the stack is kept, only the secret goes
