"""Derived values, one Column builder per name of `schemas.derived.DERIVATIONS`.

A builder reads its inputs by lab name (a struct with at least `value` in the formula's unit and `date`; an
input the criteria file does not define is a null struct) and the person's `sex` and `birth_date`, and returns
the derived value, null when it cannot be computed. The feature wraps it in the LAB_FEATURE shape, so rules
read a derived value exactly like a measured one:
- `latest` pairing (`derived_feature`): inputs are the per-person latest-result features, computed after the
  lab aggregation; dated by the first input's result;
- `same_day` pairing (`same_day_features`): inputs are each day's latest result per input lab; the feature is
  the latest day whose inputs give a value, dated by that day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.columns import number_text
from jobs.extract.units import converted
from jobs.features.demographics import age_at
from jobs.features.windows import in_window
from schemas.derived import DERIVATIONS, Derivation
from schemas.features import LAB_FEATURE, DerivedRequest

Builder = Callable[[dict[str, Column]], Column]
BUILDERS: dict[str, Builder] = {}


def derivation(name: str) -> Callable[[Builder], Builder]:
    """Register the builder of a derivation named in schemas.derived.DERIVATIONS."""
    if name not in DERIVATIONS:
        raise KeyError(f"{name} is not in schemas.derived.DERIVATIONS")

    def register(fn: Builder) -> Builder:
        BUILDERS[name] = fn
        return fn

    return register


# ------------------------------------------------------------------ formulas (Column -> Column)
def egfr_ckd_epi_2021(creatinine_mg_dl: Column, age: Column, sex: Column) -> Column:
    """Race-free CKD-EPI 2021 (Inker et al., NEJM 2021), mL/min/1.73 m2; null without sex, age or creatinine."""
    return _ckd_epi(creatinine_mg_dl, age, sex, 142.0, (-0.241, -0.302), -1.200, 0.9938, 1.012)


def egfr_ckd_epi_2009(creatinine_mg_dl: Column, age: Column, sex: Column) -> Column:
    """CKD-EPI 2009 (Levey et al., Ann Intern Med 2009) without its race factor, mL/min/1.73 m2."""
    return _ckd_epi(creatinine_mg_dl, age, sex, 141.0, (-0.329, -0.411), -1.209, 0.993, 1.018)


def _ckd_epi(scr: Column, age: Column, sex: Column, k: float, alphas: tuple[float, float], beta: float,
             age_base: float, female_factor: float) -> Column:
    """k x min(Scr/kappa, 1)^alpha x max(Scr/kappa, 1)^beta x age_base^age x female_factor (kappa 0.7 F, 0.9 M)."""
    female = sex == "female"
    kappa = F.when(female, 0.7).when(sex == "male", 0.9)
    alpha = F.when(female, alphas[0]).when(sex == "male", alphas[1])
    ratio = scr / kappa
    value = (k * F.pow(F.least(ratio, F.lit(1.0)), alpha) * F.pow(F.greatest(ratio, F.lit(1.0)), beta)
             * F.pow(F.lit(age_base), age) * F.when(female, female_factor).otherwise(1.0))
    return F.when((scr > 0) & age.isNotNull() & kappa.isNotNull(), value)


def bmi(weight_kg: Column, height_cm: Column) -> Column:
    """kg / m^2; null unless both are positive."""
    return F.when((weight_kg > 0) & (height_cm > 0), weight_kg / F.pow(height_cm / 100.0, 2))


def uacr_mg_g(albumin_mg_l: Column, creatinine_mg_dl: Column) -> Column:
    """Urine albumin (mg/L) over urine creatinine (mg/dL = 0.01 g/L), in mg/g."""
    return F.when((albumin_mg_l >= 0) & (creatinine_mg_dl > 0), albumin_mg_l / (creatinine_mg_dl * 0.01))


def qtc_fridericia(qt_ms: Column, rr_seconds: Column) -> Column:
    """QT / RR^(1/3), ms; null unless both are positive."""
    return F.when((qt_ms > 0) & (rr_seconds > 0), qt_ms / F.pow(rr_seconds, 1.0 / 3.0))


# ------------------------------------------------------------------ registered builders
@derivation("egfr_ckd_epi_2021")
def _egfr_2021(x: dict[str, Column]) -> Column:
    c = x["creatinine"]
    return egfr_ckd_epi_2021(c["value"], age_at(F.col("birth_date"), c["date"]), F.col("sex"))


@derivation("egfr_ckd_epi_2009")
def _egfr_2009(x: dict[str, Column]) -> Column:
    c = x["creatinine"]
    return egfr_ckd_epi_2009(c["value"], age_at(F.col("birth_date"), c["date"]), F.col("sex"))


@derivation("bmi_from_weight_height")
def _bmi(x: dict[str, Column]) -> Column:
    return bmi(x["weight"]["value"], x["height"]["value"])


@derivation("uacr_from_albumin_creatinine")
def _uacr(x: dict[str, Column]) -> Column:
    return uacr_mg_g(x["urine_albumin"]["value"], x["urine_creatinine"]["value"])


@derivation("qtc_fridericia")
def _qtc(x: dict[str, Column]) -> Column:
    rr, hr = x["rr"]["value"], x["heart_rate"]["value"]
    rr_seconds = F.coalesce(F.when(rr > 0, rr / 1000.0), F.when(hr > 0, 60.0 / hr))  # an RR interval first
    return qtc_fridericia(x["qt"]["value"], rr_seconds)


# ------------------------------------------------------------------ features
def _how(spec: Derivation, inputs: dict[str, Column]) -> Column:
    """`BMI from weight 80 kg, height 180 cm`: the inputs that have a value."""
    parts = [F.when(inputs[i.lab]["value"].isNotNull(),
                    F.concat(F.lit(f"{i.lab} "), number_text(inputs[i.lab]["value"]), F.lit(f" {i.unit}")))
             for i in spec.inputs]
    return F.concat(F.lit(f"{spec.label} from "), F.concat_ws(", ", *parts))


def _absent() -> Column:
    return F.lit(None).cast(LAB_FEATURE)


def _feature(spec: Derivation, value: Column, first: Column, when: Column, n: Column, how: Column) -> Column:
    return F.when(value.isNotNull(), F.struct(
        value.alias("value"), F.lit(spec.unit).alias("unit"), when.alias("date"),
        first["concept_id"].cast("long").alias("concept_id"), first["value"].alias("raw_value"),
        F.lit(spec.inputs[0].unit).alias("raw_unit"), F.lit(None).cast("double").alias("uln_ratio"),
        F.lit(None).cast("boolean").alias("positive"), n.cast("long").alias("n_results"),
        F.lit(0).cast("long").alias("n_unconvertible"), how.alias("derived"),
    ))


def derived_feature(req: DerivedRequest) -> Column:
    """A `latest`-pairing LAB_FEATURE struct from the per-person input features and demographics; its date,
    concept and raw value are those of the first input, and `derived` says how it was computed."""
    spec = DERIVATIONS[req.method]
    named = {r.lab: F.col(r.name) for r in req.inputs}
    inputs = {i.lab: named.get(i.lab, _absent()) for i in spec.inputs}
    first = inputs[spec.inputs[0].lab]
    value = BUILDERS[req.method](inputs)
    return _feature(spec, value, first, first["date"], F.lit(1), _how(spec, inputs)).alias(req.name)


def same_day_features(results: DataFrame, demographics: DataFrame | None, requests: list[DerivedRequest],
                      as_of: date, evidence: Column) -> DataFrame | None:
    """person_id + one LAB_FEATURE struct per `same_day` request: the latest day in the rule's window whose
    results (each input's latest of that day) give a value; `n_results` counts such days. None without any."""
    out = None
    for req in sorted(requests):
        spec = DERIVATIONS[req.method]
        wanted = {r.lab: r.unit for r in req.inputs}
        rows = results.where(F.col("lab").isin(*sorted(wanted)) & evidence
                             & in_window(F.col("measurement_date"), as_of, req.lookback_days))
        per_day = rows.groupBy("person_id", "measurement_date").agg(*[
            F.max(F.when((F.col("lab") == lab) & converted(unit).isNotNull(), F.struct(
                F.col("measurement_id").alias("id"), converted(unit).alias("value"),
                F.col("measurement_concept_id").alias("concept_id"), F.col("measurement_date").alias("date"))))
            .alias(f"_in_{lab}") for lab, unit in sorted(wanted.items())])
        if spec.demographics and demographics is not None:
            per_day = per_day.join(demographics.select("person_id", "sex", "birth_date").hint("merge"),
                                   "person_id", "left")
        inputs = {i.lab: F.col(f"_in_{i.lab}") if i.lab in wanted else _absent() for i in spec.inputs}
        value = BUILDERS[req.method](inputs)
        first = inputs[spec.inputs[0].lab]
        best = (per_day.where(value.isNotNull())
                .groupBy("person_id")
                .agg(F.max(F.struct(F.col("measurement_date").alias("d"), value.alias("v"),
                                    first["concept_id"].alias("concept_id"), first["value"].alias("value"),
                                    _how(spec, inputs).alias("how"))).alias("b"), F.count(F.lit(1)).alias("n")))
        feat = best.select("person_id", _feature(spec, F.col("b")["v"], F.col("b"), F.col("b")["d"], F.col("n"),
                                                 F.col("b")["how"]).alias(req.name))
        out = feat if out is None else out.join(feat, "person_id", "full")
    return out
