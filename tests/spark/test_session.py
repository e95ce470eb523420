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
