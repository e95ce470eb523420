"""What each concept set resolves to on this extract, and how much of the extract it matches.

The check a phenotype author runs before trusting a count (`cohort-finder concept-sets`; the per-set totals
also go to the manifest and the report): each member with its name, how it got in (listed, a descendant
through the extract's concept_ancestor, or a descendant through the shipped subset), whether the extract's
concept table holds it, and the records and distinct persons it matches in the event tables (any date,
before the quality gate). Counts are aggregates from one grouped action; no person-level value leaves Spark.
A set that resolves to no concept of the extract or of the shipped subset is a warning naming the criteria
that read it: an exclusion on it would pass everyone silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.extract.vocabulary import ResolvedConceptSets
from schemas.criteria import CriteriaFile, LabRule, walk_rules
from schemas.derived import DERIVATIONS

EVENT_CONCEPTS = {"condition_occurrence": "condition_concept_id", "observation": "observation_concept_id",
                  "procedure_occurrence": "procedure_concept_id", "drug_exposure": "drug_concept_id",
                  "measurement": "measurement_concept_id"}


@dataclass(frozen=True)
class MemberCount:
    concept_id: int
    name: str | None  # from the extract's concept table, else the shipped subset; None: in neither
    how: str
    in_extract: bool
    records: int
    persons: int


@dataclass
class SetSummary:
    name: str
    users: list[str]  # criteria that read the set (directly, or through a lab or a derivation's input)
    members: list[MemberCount] = field(default_factory=list)
    records: int = 0
    persons: int = 0  # distinct persons with a record of any member

    def to_manifest(self) -> dict:
        return {"members": len(self.members), "members_in_extract": sum(m.in_extract for m in self.members),
                "records": self.records, "persons": self.persons, "criteria": self.users}


def set_users(criteria: CriteriaFile) -> dict[str, list[str]]:
    """{concept set: ids of the criteria that read it}, every set of the file (unused sets: [])."""
    users: dict[str, list[str]] = {name: [] for name in criteria.concept_sets}
    for crit in criteria.criteria:
        for _path, rule in walk_rules(crit.rule, "rule"):
            sets = [getattr(rule, "concept_set", None), getattr(rule, "value_concept_set", None)]
            if isinstance(rule, LabRule):
                labs = [rule.lab] + ([i.lab for i in DERIVATIONS[rule.derive].inputs] if rule.derive else [])
                sets = [criteria.labs[lab].concept_set for lab in labs if lab in criteria.labs]
            for name in sets:
                if name in users and crit.id not in users[name]:
                    users[name].append(crit.id)
    return users


def empty_set_warnings(resolved: ResolvedConceptSets, criteria: CriteriaFile) -> list[str]:
    """One line per concept set that resolves to no concept of the extract or the shipped subset."""
    users = set_users(criteria)
    return [f"concept set {name}: no member is a concept of the extract or the shipped vocabulary subset; "
            f"read by {', '.join(users.get(name)) or 'no criterion'} (an exclusion on it passes everyone)"
            for name in resolved.empty_sets]


def member_counts(spark: SparkSession, frames: dict[str, DataFrame], resolved: ResolvedConceptSets) -> DataFrame:
    """(concept_set, concept_id, records, persons) per member, plus per set (concept_id null): one rollup over
    the event tables joined to the broadcast member table."""
    events = [frames[t].select("person_id", F.col(c).alias("concept_id")) for t, c in EVENT_CONCEPTS.items()
              if t in frames]
    union = events[0]
    for e in events[1:]:
        union = union.unionByName(e)
    hits = union.join(F.broadcast(resolved.members_table(spark)), "concept_id")
    return (hits.rollup("concept_set", "concept_id")
            .agg(F.count(F.lit(1)).alias("records"), F.countDistinct("person_id").alias("persons"))
            .where(F.col("concept_set").isNotNull()))


def summarize(spark: SparkSession, frames: dict[str, DataFrame], resolved: ResolvedConceptSets,
              criteria: CriteriaFile) -> dict[str, SetSummary]:
    """Every concept set of the file with its members and counts (sets and members in a stable order)."""
    counts = {(r["concept_set"], r["concept_id"]): (int(r["records"]), int(r["persons"]))
              for r in member_counts(spark, frames, resolved).collect()}
    users = set_users(criteria)
    out: dict[str, SetSummary] = {}
    for name in criteria.concept_sets:
        s = SetSummary(name, users[name])
        for m in resolved.members.get(name, []):
            rec, per = counts.get((name, m.concept_id), (0, 0))
            s.members.append(MemberCount(m.concept_id, resolved.names.get(m.concept_id), m.how,
                                         m.concept_id in resolved.in_extract, rec, per))
        s.records, s.persons = counts.get((name, None), (0, 0))
        out[name] = s
    return out
