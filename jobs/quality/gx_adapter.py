"""Great Expectations validates the gate's metrics: one ephemeral context, one Spark dataframe asset.

GX's own Spark implementation costs about a second per expectation per million rows, so the gate computes
its counts itself (one pass per table) and GX validates `expect_column_sum_to_be_between` on that one row of
counts (GX bundles those aggregates into one Spark job). Nothing person-level reaches GX.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame


class GxValidator:
    """One ephemeral GX context with one Spark dataframe asset, validating a one-row metrics frame."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # That module sets its own logger to INFO on import ("Created temporary directory ... for ephemeral
        # docs site" on every run); follow the package's level instead.
        logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.NOTSET)
        self._gx = gx
        self.ctx = gx.get_context(mode="ephemeral")
        self.ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = self.ctx.data_sources.add_spark(name="cohort_finder", persist=False)
        self.batch = source.add_dataframe_asset(name="metrics").add_batch_definition_whole_dataframe("whole")

    def validate(self, metrics: DataFrame, bounds: dict[str, tuple[int | None, int | None]]) -> dict[str, int]:
        """`expect_column_sum_to_be_between` for every metric column (GX bundles them into one aggregate);
        returns each column's observed value."""
        exps = [{"type": "expect_column_sum_to_be_between", "kwargs": {"column": c, "min_value": lo, "max_value": hi}}
                for c, (lo, hi) in bounds.items()]
        suite = self._gx.ExpectationSuite(name="cohort_finder_gate", expectations=exps)
        if len(suite.expectations) != len(exps):  # GX drops a bad dict silently; never let that pass
            raise AssertionError("GX dropped an expectation of the gate")
        res = self.batch.get_batch(batch_parameters={"dataframe": metrics}).validate(suite, result_format="SUMMARY")
        observed: dict[str, int] = {}
        for r in res.results:
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise RuntimeError(r.exception_info.get("exception_message") or "GX expectation raised")
            observed[r.expectation_config.kwargs["column"]] = int(r.result.get("observed_value") or 0)
        return observed
