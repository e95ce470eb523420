"""Demographics at the as-of date: age, sex, site, death, observation coverage. One row per person."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

FEMALE, MALE = 8532, 8507


def birth_date(year: Column, month: Column, day: Column, birth_datetime: Column) -> Column:
    """birth_datetime when given, else year/month/day; a missing month or day falls mid-year/mid-month.

    Built as text and try_cast so an impossible date (month 13) is null rather than an ANSI error.
    """
    def pad(c: Column, width: int) -> Column:
        return F.lpad(c.cast("int").cast("string"), width, "0")

    text = F.concat_ws("-", pad(year, 4), pad(F.coalesce(month, F.lit(7)), 2),
                       pad(F.coalesce(day, F.when(month.isNull(), F.lit(1)).otherwise(F.lit(15))), 2))
    return F.coalesce(F.to_date(birth_datetime), text.try_cast("date"))


def age_at(born: Column, on: Column) -> Column:
    """Whole years between two dates."""
    return F.floor(F.months_between(on, born) / 12).cast("int")


def sex_of(gender_concept_id: Column) -> Column:
    return (F.when(gender_concept_id == FEMALE, F.lit("female"))
            .when(gender_concept_id == MALE, F.lit("male")))


def site_name(care_site_name: Column, site_city: Column, site_state: Column, person_city: Column,
              person_state: Column) -> Column:
    """Care site name, else the care site's city/state, else the person's, else 'unknown'."""
    def place(city: Column, state: Column) -> Column:
        return F.when(city.isNotNull() | state.isNotNull(), F.concat_ws(", ", city, state))

    return F.coalesce(care_site_name, place(site_city, site_state), place(person_city, person_state),
                      F.lit("unknown"))


def demographics(person: DataFrame, death: DataFrame, observation_period: DataFrame, care_site: DataFrame,
                 location: DataFrame, as_of: date) -> DataFrame:
    """One row per person in `person` (after `with_visit_site`), with the columns of
    schemas.features.DEMOGRAPHICS."""
    on = F.lit(as_of)
    deaths = death.groupBy("person_id").agg(F.min("death_date").alias("death_date"))
    periods = (observation_period.groupBy("person_id").agg(
        F.max(F.when((F.col("observation_period_start_date") <= on)
                     & (F.col("observation_period_end_date") >= on), True).otherwise(False)).alias("observed_at_as_of"),
        F.max("observation_period_end_date").alias("observation_end_date")))
    loc = F.broadcast(location.select("location_id", "city", "state"))
    sites = F.broadcast(
        care_site.select("care_site_id", "care_site_name", "location_id")
        .join(loc, "location_id", "left")
        .select("care_site_id", "care_site_name", F.col("city").alias("site_city"), F.col("state").alias("site_state")))
    people = (person
              .join(sites, "care_site_id", "left")
              .join(loc.select("location_id", F.col("city").alias("person_city"), F.col("state").alias("person_state")),
                    "location_id", "left"))
    born = birth_date(F.col("year_of_birth"), F.col("month_of_birth"), F.col("day_of_birth"), F.col("birth_datetime"))
    return (people
            .join(deaths, "person_id", "left")
            .join(periods, "person_id", "left")
            .select(
                "person_id",
                sex_of(F.col("gender_concept_id")).alias("sex"),
                born.alias("birth_date"),
                age_at(born, on).alias("age"),
                "death_date",
                F.coalesce(F.col("death_date") <= on, F.lit(False)).alias("deceased"),
                F.coalesce(F.col("observed_at_as_of"), F.lit(False)).alias("observed_at_as_of"),
                "observation_end_date",
                "days_since_visit",
                site_name(F.col("care_site_name"), F.col("site_city"), F.col("site_state"), F.col("person_city"),
                          F.col("person_state")).alias("site"),
            ))


def with_visit_site(person: DataFrame, visits: DataFrame, as_of: date) -> DataFrame:
    """A person without a care_site_id takes the care site of their latest visit up to as-of; every person
    gets `days_since_visit` (as-of minus their latest visit start, for data recency). One pass over visits."""
    on = F.lit(as_of)
    sited = F.when(F.col("care_site_id").isNotNull(), F.struct("visit_start_date", "care_site_id"))
    latest = (visits.where(F.col("visit_start_date") <= on)
              .groupBy("person_id")
              .agg(F.max(sited)["care_site_id"].alias("visit_site"),
                   F.datediff(on, F.max("visit_start_date")).alias("days_since_visit")))
    return (person.join(latest, "person_id", "left")
            .withColumn("care_site_id", F.coalesce("care_site_id", "visit_site")).drop("visit_site"))
