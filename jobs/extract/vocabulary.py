"""Resolve concept sets (ATLAS semantics) against the extract's vocabulary, completed by the shipped subset.

An item names a concept id or a vocabulary code; `include_descendants` adds every descendant through
concept_ancestor; excluded items (with their descendants) are removed from the set. Codes resolve through
the extract's `concept` table plus the shipped `schemas/vocabulary/concept.csv`; descendants through the
extract's `concept_ancestor` plus the shipped ancestor rows (Synthea's is empty, and its drugs are products).
`include_mapped` (ATLAS) follows circe-be: the item (and its descendants, with `include_descendants`) is matched
on `concept_relationship.concept_id_2` of valid 'Maps to' rows and their `concept_id_1` (the source concepts) join
the set, or leave it for an excluded item; an extract without concept_relationship adds nothing (reported).

The result is vocabulary, not person data, so it is small and collected to the driver: it becomes `isin`
filters and a broadcast membership table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.columns import local_frame
from jobs.errors import InputError
from jobs.extract.reader import OmopExtract
from schemas.criteria import CriteriaFile

SHIPPED = resources.files("schemas").joinpath("vocabulary")  # a folder, or a folder inside the --py-files zip
MAX_RESOLVED = 2_000_000  # a concept set this large is a mistake (e.g. descendants of a root concept)
# How a member got into its set, for `cohort-finder concept-sets` and the manifest (best first).
LISTED, FROM_EXTRACT, FROM_SHIPPED = "listed", "descendant (extract)", "descendant (shipped subset)"
MAPPED = "mapped (concept_relationship 'Maps to')"
_HOW_RANK = {LISTED: 0, FROM_EXTRACT: 1, FROM_SHIPPED: 2, MAPPED: 3}


@dataclass(frozen=True)
class Member:
    concept_id: int
    item_concept_id: int  # the concept set item it came from (an ingredient for drug sets)
    label: str | None
    how: str = LISTED  # LISTED, FROM_EXTRACT, FROM_SHIPPED or MAPPED


@dataclass
class ResolvedConceptSets:
    members: dict[str, list[Member]]
    unresolved_codes: list[str] = field(default_factory=list)  # "set: VOCAB code" not in any vocabulary
    empty_sets: list[str] = field(default_factory=list)  # no member is a concept of the extract or the subset
    names: dict[int, str] = field(default_factory=dict)  # member -> concept_name (extract, else shipped)
    in_extract: set[int] = field(default_factory=set)  # members the extract's concept table holds
    mapped_unavailable: list[str] = field(default_factory=list)  # sets asking include_mapped, no relationships

    def ids(self, name: str) -> list[int]:
        return sorted({m.concept_id for m in self.members.get(name, [])})

    def members_table(self, spark: SparkSession) -> DataFrame:
        """(concept_set, concept_id, how) for every member of every set: small, vocabulary only."""
        rows = [(n, m.concept_id, m.how) for n in sorted(self.members) for m in self.members[n]]
        return local_frame(spark, rows, "concept_set string, concept_id long, how string")

    def table(self, spark: SparkSession, names: list[str] | None = None) -> DataFrame:
        """Broadcastable (concept_set, concept_id, item_concept_id, label) rows."""
        rows = [(n, m.concept_id, m.item_concept_id, m.label)
                for n in (names or sorted(self.members)) for m in self.members.get(n, [])]
        schema = "concept_set string, concept_id long, item_concept_id long, label string"
        return F.broadcast(local_frame(spark, rows, schema))

    def to_manifest(self) -> dict:
        return {"concept_sets": {n: len(self.ids(n)) for n in sorted(self.members)},
                "unresolved_codes": self.unresolved_codes, "empty_concept_sets": self.empty_sets,
                "include_mapped_without_concept_relationship": self.mapped_unavailable}


def shipped_concepts(spark: SparkSession) -> DataFrame:
    return _read_shipped(spark, "concept.csv", "concept_id long, vocabulary_id string, concept_code string")


def shipped_ancestors(spark: SparkSession) -> DataFrame:
    return _read_shipped(spark, "concept_ancestor.csv", "ancestor_concept_id long, descendant_concept_id long")


def _read_shipped(spark: SparkSession, name: str, columns: str) -> DataFrame:
    """Small CSV shipped with the code; read on the driver (it is not person data) to avoid file shipping."""
    import csv

    wanted = [c.split()[0] for c in columns.split(", ")]
    with SHIPPED.joinpath(name).open("r", newline="", encoding="utf-8") as fh:
        rows = [tuple(_typed(r[c], t) for c, t in zip(wanted, [c.split()[1] for c in columns.split(", ")], strict=True))
                for r in csv.DictReader(fh)]
    return local_frame(spark, rows, columns)


def _typed(value: str, kind: str):
    return int(value) if kind == "long" else value


def resolve_concept_sets(spark: SparkSession, criteria: CriteriaFile, extract: OmopExtract) -> ResolvedConceptSets:
    """Two filtered vocabulary scans (codes, ancestors), then ATLAS set logic on the driver."""
    codes = sorted({(it.vocabulary, it.code) for cs in criteria.concept_sets.values() for it in cs.items
                    if it.code is not None})
    check_concept_keys(extract)
    code_rows = _concepts_for_codes(spark, extract, codes).collect()
    bad = sum(int(r["malformed"]) for r in code_rows)
    if bad:
        raise InputError(f"table concept: {bad} row(s) for codes the criteria use have a malformed or null "
                         "concept_id; fix them (a code cannot be resolved to a guessed concept).")
    code_ids = {(r["vocabulary_id"], r["concept_code"]): int(r["concept_id"]) for r in code_rows
                if r["concept_id"] is not None}
    unresolved: list[str] = []
    items: list[tuple[str, int, bool, bool, bool, str | None]] = []  # (set, concept, desc, exclude, mapped, label)
    for name, cs in criteria.concept_sets.items():
        for it in cs.items:
            cid = it.concept_id if it.concept_id is not None else code_ids.get((it.vocabulary, it.code))
            if cid is None:
                unresolved.append(f"{name}: {it.vocabulary} {it.code}")
                continue
            items.append((name, cid, it.include_descendants, it.exclude, it.include_mapped, it.label))
    roots = sorted({cid for _, cid, desc, _, _, _ in items if desc})
    descendants: dict[int, dict[int, str]] = {}  # item -> {descendant: how}
    ancestor_rows = _ancestors_of(spark, extract, roots).collect() if roots else []
    bad = sum(1 for r in ancestor_rows if r["ancestor_concept_id"] is None or r["descendant_concept_id"] is None)
    if bad:
        raise InputError(f"table concept_ancestor: {bad} row(s) have a malformed or null ancestor_concept_id or "
                         "descendant_concept_id while the criteria need descendants; fix them (a row that "
                         "cannot be read could be one the criteria use).")
    for r in ancestor_rows:
        reach = descendants.setdefault(int(r["ancestor_concept_id"]), {})
        d, how = int(r["descendant_concept_id"]), r["how"]
        if d not in reach or _HOW_RANK[how] < _HOW_RANK[reach[d]]:
            reach[d] = how

    def reach_of(cid: int, desc: bool) -> dict[int, str]:
        return {cid: LISTED, **{d: h for d, h in (descendants.get(cid, {}) if desc else {}).items() if d != cid}}

    targets = sorted({m for _, cid, desc, _, mapped, _ in items if mapped for m in reach_of(cid, desc)})
    sources: dict[int, set[int]] = {}
    for r in _mapped_sources(spark, extract, targets).collect():
        sources.setdefault(int(r["concept_id_2"]), set()).add(int(r["concept_id_1"]))
    members: dict[str, list[Member]] = {}
    total = 0
    for name in criteria.concept_sets:
        chosen: dict[int, tuple[int, str | None]] = {}
        how: dict[int, str] = {}
        excluded: set[int] = set()
        for set_name, cid, desc, exclude, mapped, label in items:
            if set_name != name:
                continue
            reach = reach_of(cid, desc)
            if mapped:
                reach |= {src: MAPPED for tgt in list(reach) for src in sources.get(tgt, set()) if src not in reach}
            if exclude:
                excluded |= set(reach)
                continue
            for m, h in reach.items():  # the lowest item id wins, so a product maps to one ingredient
                if m not in chosen or cid < chosen[m][0]:
                    chosen[m] = (cid, label)
                if m not in how or _HOW_RANK[h] < _HOW_RANK[how[m]]:
                    how[m] = h
        members[name] = [Member(m, item, label, how[m]) for m, (item, label) in sorted(chosen.items())
                         if m not in excluded]
        total += len(members[name])
    if total > MAX_RESOLVED:
        raise InputError(f"concept sets resolve to {total} concepts (> {MAX_RESOLVED}); check include_descendants")
    names, in_extract = _known_concepts(spark, extract, sorted({m.concept_id for ms in members.values() for m in ms}))
    empty = sorted(n for n, ms in members.items() if not any(m.concept_id in names for m in ms))
    no_map = [] if extract.has("concept_relationship") else sorted(
        {n for n, cs in criteria.concept_sets.items() if any(i.include_mapped for i in cs.items)})
    return ResolvedConceptSets(members, sorted(set(unresolved)), empty, names=names, in_extract=in_extract,
                               mapped_unavailable=no_map)


def _known_concepts(spark: SparkSession, extract: OmopExtract, ids: list[int]) -> tuple[dict[int, str], set[int]]:
    """Names of the members found in the extract's concept table or the shipped subset, and which of them the
    extract holds: one filtered scan of concept (a set member absent from both is not a concept at all)."""
    cols = ["concept_id", "concept_name"]
    ours = _read_shipped(spark, "concept.csv", "concept_id long, concept_name string").withColumn("ext", F.lit(False))
    both = ours
    if extract.has("concept"):
        both = extract.read("concept", cols).select(*cols).withColumn("ext", F.lit(True)).unionByName(ours)
    wanted = local_frame(spark, [(i,) for i in ids], "concept_id long")
    rows = (both.join(F.broadcast(wanted), "concept_id").groupBy("concept_id")
            .agg(F.max("ext").alias("ext"), F.max_by("concept_name", "ext").alias("concept_name")).collect())
    return ({int(r["concept_id"]): r["concept_name"] for r in rows},
            {int(r["concept_id"]) for r in rows if r["ext"]})


def check_concept_keys(extract: OmopExtract) -> None:
    """A concept_id given twice stops the run: it multiplies every vocabulary join (and which row's code or
    name is right cannot be told). One aggregation over the concept ids."""
    if not extract.has("concept"):
        return
    dupes = (extract.read("concept", ["concept_id"]).where(F.col("concept_id").isNotNull())
             .groupBy("concept_id").count().where(F.col("count") > 1))
    first = dupes.orderBy("concept_id").first()
    if first is not None:
        raise InputError(f"table concept: concept_id {first['concept_id']} appears {first['count']} times "
                         "(concept_id is the primary key); remove the duplicate rows.")


def _concepts_for_codes(spark: SparkSession, extract: OmopExtract, codes: list[tuple[str, str]]) -> DataFrame:
    """(vocabulary_id, concept_code, concept_id, malformed) for the codes the criteria use; the lowest id
    wins; `malformed` counts the rows of that code whose concept_id did not parse."""
    schema = "vocabulary_id string, concept_code string, concept_id long, malformed long"
    if not codes:
        return local_frame(spark, [], schema)
    wanted = F.col("concept_code").isin(sorted({c for _, c in codes}))
    cols = ["concept_id", "vocabulary_id", "concept_code"]
    ours = shipped_concepts(spark)
    both = ours if not extract.has("concept") else extract.read("concept", cols).select(*cols).unionByName(ours)
    pairs = F.struct("vocabulary_id", "concept_code").isin([F.struct(F.lit(v), F.lit(c)) for v, c in codes])
    return (both.where(wanted).where(pairs).groupBy("vocabulary_id", "concept_code")
            .agg(F.min("concept_id").alias("concept_id"),
                 F.count(F.when(F.col("concept_id").isNull(), 1)).alias("malformed")))


def _ancestors_of(spark: SparkSession, extract: OmopExtract, roots: list[int]) -> DataFrame:
    """(ancestor, descendant, how) rows of the extract's concept_ancestor and the shipped subset."""
    cols = ["ancestor_concept_id", "descendant_concept_id"]
    ours = shipped_ancestors(spark).withColumn("how", F.lit(FROM_SHIPPED))
    if extract.has("concept_ancestor"):
        theirs = extract.read("concept_ancestor", cols).select(*cols).withColumn("how", F.lit(FROM_EXTRACT))
        ours = theirs.unionByName(ours)
    unreadable = F.col("ancestor_concept_id").isNull() | F.col("descendant_concept_id").isNull()
    return ours.where(F.col("ancestor_concept_id").isin(roots) | unreadable).distinct()


def _mapped_sources(spark: SparkSession, extract: OmopExtract, targets: list[int]) -> DataFrame:
    """(concept_id_1, concept_id_2) of valid 'Maps to' rows into `targets`; none without concept_relationship."""
    if not targets or not extract.has("concept_relationship"):
        return local_frame(spark, [], "concept_id_1 long, concept_id_2 long")
    rel = extract.read("concept_relationship", ["concept_id_1", "concept_id_2", "relationship_id", "invalid_reason"])
    return (rel.where((F.col("relationship_id") == "Maps to") & F.col("invalid_reason").isNull()
                      & F.col("concept_id_2").isin(targets))
            .select("concept_id_1", "concept_id_2").distinct())
