"""Derived values, one Column builder per name of `schemas.derived.DERIVATIONS`.

A builder reads its inputs' lab features (the latest result of each input lab in the rule's window) and the
person's sex and birth date, and returns the derived value; `derived_feature` wraps it in the LAB_FEATURE
shape, dated by the input result, so rules read a derived value exactly like a measured one.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.columns import number_text
from jobs.features.demographics import age_at
from schemas.derived import DERIVATIONS
from schemas.features import DerivedRequest

Builder = Callable[[list[Column]], Column]
BUILDERS: dict[str, Builder] = {}


def derivation(name: str) -> Callable[[Builder], Builder]:
    """Register the builder of a derivation named in schemas.derived.DERIVATIONS."""
    if name not in DERIVATIONS:
        raise KeyError(f"{name} is not in schemas.derived.DERIVATIONS")

    def register(fn: Builder) -> Builder:
        BUILDERS[name] = fn
        return fn

    return register


def egfr_ckd_epi_2021(creatinine_mg_dl: Column, age: Column, sex: Column) -> Column:
    """Race-free CKD-EPI 2021 (Inker et al., NEJM 2021), mL/min/1.73 m2; null without sex, age or creatinine."""
    female = sex == "female"
    kappa = F.when(female, 0.7).when(sex == "male", 0.9)
    alpha = F.when(female, -0.241).when(sex == "male", -0.302)
    ratio = creatinine_mg_dl / kappa
    value = (142 * F.pow(F.least(ratio, F.lit(1.0)), alpha) * F.pow(F.greatest(ratio, F.lit(1.0)), -1.200)
             * F.pow(F.lit(0.9938), age) * F.when(female, 1.012).otherwise(1.0))
    return F.when((creatinine_mg_dl > 0) & age.isNotNull() & kappa.isNotNull(), value)


@derivation("egfr_ckd_epi_2021")
def _egfr_2021(inputs: list[Column]) -> Column:
    (creat,) = inputs
    return egfr_ckd_epi_2021(creat["value"], age_at(F.col("birth_date"), creat["date"]), F.col("sex"))


def derived_feature(req: DerivedRequest) -> Column:
    """A LAB_FEATURE struct computed after aggregation from the input features and demographics; its date,
    concept and raw value are those of the first input, and `derived` says how it was computed."""
    spec = DERIVATIONS[req.method]
    inputs = [F.col(i.name) for i in req.inputs]
    first, unit = inputs[0], spec.inputs[0].unit
    value = BUILDERS[req.method](inputs)
    how = ", ".join(f"{i.lab} %s {i.unit}" for i in spec.inputs)
    return F.when(value.isNotNull(), F.struct(
        value.alias("value"), F.lit(spec.unit).alias("unit"), first["date"].alias("date"),
        first["concept_id"].alias("concept_id"), first["value"].alias("raw_value"),
        F.lit(unit).alias("raw_unit"), F.lit(None).cast("double").alias("uln_ratio"),
        F.lit(None).cast("boolean").alias("positive"), F.lit(1).cast("long").alias("n_results"),
        F.lit(0).cast("long").alias("n_unconvertible"),
        F.format_string(f"{spec.label} from {how}", *[number_text(i["value"]) for i in inputs]).alias("derived"),
    )).alias(req.name)
