"""Several trials in one run: each trial keeps its own criteria, cohorts and outputs (`OUT/<trial>/`), while
reading, the gate and feature extraction are shared, over the union of what the trials ask for.

Why a union and not one pass per trial: reading and the gate scan every table, and each feature family
shuffles its table once whatever the number of requests; a second trial costs one more projection, not one
more job. Two trials may give the same concept-set name different items: the first definition keeps the
name and a different one runs as `<trial>__<name>`, so a feature is only shared when its definition is
identical. Labs are shared by name (derivations find their input labs by name), so two different definitions
of one lab name are refused with one line naming the lab, rather than silently computing one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from jobs.errors import CriteriaError
from jobs.rules.loader import LoadedCriteria
from schemas.criteria import CriteriaFile
from schemas.features import FeaturePlan, plan_features

TRIAL_DIR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Trial:
    """One trial of a run: its (namespaced) model, where it came from, and its folder under --out."""

    model: CriteriaFile
    source: LoadedCriteria
    folder: str


@dataclass(frozen=True)
class TrialSet:
    """The trials of a run, the union of their concept sets, labs and criteria (`vocabulary`, a CriteriaFile that
    only the read, gate, concept-set summary and feature stages use; its cohorts are the first trial's), and
    the union of their feature plans."""

    trials: tuple[Trial, ...]
    vocabulary: CriteriaFile
    plan: FeaturePlan

    def folders(self) -> dict[str, list[str]]:
        """{trial folder: cohort names}: what the output registry expands."""
        return {t.folder: list(t.model.cohorts) for t in self.trials}


def trial_folder(model: CriteriaFile, path: str) -> str:
    if not TRIAL_DIR.match(model.trial):
        raise CriteriaError(f"{path}: trial: {model.trial!r} cannot name an output folder (letters, digits, "
                            "'.', '_', '-'; it becomes OUT/<trial>/)")
    return model.trial


def rename_concept_sets(model: CriteriaFile, renames: dict[str, str]) -> CriteriaFile:
    """`model` with concept sets renamed, references included: every value of a field named `concept_set`
    (or a list named `concept_sets`) anywhere in the file. The renamed file is validated again, so a reference
    this walk missed fails loudly as an unknown concept set instead of reading another trial's set."""
    if not renames:
        return model

    def walk(node):
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k.endswith("concept_set") and isinstance(v, str):
                    out[k] = renames.get(v, v)
                elif k.endswith("concept_sets") and isinstance(v, list):
                    out[k] = [renames.get(x, x) if isinstance(x, str) else walk(x) for x in v]
                else:
                    out[k] = walk(v)
            return out
        if isinstance(node, list):
            return [walk(x) for x in node]
        return node

    data = walk(model.model_dump(exclude_unset=True))
    data["concept_sets"] = {renames.get(k, k): v for k, v in data["concept_sets"].items()}
    return CriteriaFile.model_validate(data)


def union_plan(plans: list[FeaturePlan]) -> FeaturePlan:
    """Field by field union of feature plans (set fields are unioned, dict fields merged), so a request kind
    added to FeaturePlan later is combined without a change here."""
    out = FeaturePlan()
    for f in fields(FeaturePlan):
        acc = getattr(out, f.name)
        for p in plans:
            value = getattr(p, f.name)
            if isinstance(acc, set):
                acc |= value
            elif isinstance(acc, dict):
                acc.update(value)
            else:
                raise TypeError(f"FeaturePlan.{f.name}: cannot combine a {type(acc).__name__}")
    return out


def combine(loaded: list[LoadedCriteria]) -> TrialSet:
    """The trials of a run (in the order given), namespaced where two define one concept-set name differently."""
    if not loaded:
        raise CriteriaError("--criteria is required: give one criteria file per trial "
                            "(e.g. --criteria criteria/nct06557265.yaml; shipped trials: criteria/*.yaml)")
    folders: dict[str, str] = {}
    for lc in loaded:
        folder = trial_folder(lc.model, lc.path)
        if folder.lower() in folders:
            raise CriteriaError(f"{lc.path}: trial {lc.model.trial} is also given by {folders[folder.lower()]}; "
                                "give each trial once")
        folders[folder.lower()] = lc.path
    names: dict[tuple[str, str], str] = {}  # (set name, definition) -> the name it runs under
    trials = []
    for lc in loaded:
        prefix = re.sub(r"[^a-z0-9]+", "_", lc.model.trial.lower()).strip("_")
        renames = {}
        for name, cs in lc.model.concept_sets.items():
            key = (name, cs.model_dump_json())
            if key not in names:  # the first definition of a name keeps it; a different one is namespaced
                names[key] = name if not any(n == name for n, _ in names) else f"{prefix}__{name}"
            if names[key] != name:
                renames[name] = names[key]
        trials.append(Trial(rename_concept_sets(lc.model, renames), lc, trial_folder(lc.model, lc.path)))
    concept_sets, labs, lab_from = {}, {}, {}
    for t in trials:
        concept_sets.update(t.model.concept_sets)
        for name, lab in t.model.labs.items():
            if name in labs and labs[name] != lab:
                raise CriteriaError(f"{t.source.path}: labs.{name} differs from labs.{name} of {lab_from[name]}; "
                                    "trials run together share a lab name's definition (rename one lab)")
            labs[name] = lab
            lab_from.setdefault(name, t.source.path)
    # every trial's criteria too (ids may repeat across trials): who reads a set, what data the criteria need
    vocabulary = trials[0].model.model_copy(update={"concept_sets": concept_sets, "labs": labs,
                                                    "criteria": [c for t in trials for c in t.model.criteria]})
    return TrialSet(tuple(trials), vocabulary, union_plan([plan_features(t.model) for t in trials]))
