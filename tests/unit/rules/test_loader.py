"""Criteria files: every shipped file parses; malformed files give one clear message (file, line, id, field).

No Spark here: a bad criteria file is refused before any JVM starts.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from jobs.errors import CriteriaError
from jobs.rules.loader import LoadedCriteria, load_criteria, parse_criteria
from schemas.criteria import ReviewRule

ROOT = Path(__file__).resolve().parents[3]
TRIAL = ROOT.parent / "shared" / "trial" / "NCT06557265.txt"

GOOD = """\
trial: T
title: t
version: "1"
concept_sets:
  sle: {name: SLE, items: [{concept_id: 257628}]}
labs:
  upcr: {name: UPCR, concept_set: sle}
criteria:
  - id: a
    type: inclusion
    text: "age"
    rule: {kind: age, min: 18}
  - id: b
    type: inclusion
    text: "sle"
    rule: {kind: condition, concept_set: sle}
cohorts:
  c: {title: C, criteria: [a, b]}
"""


@pytest.mark.parametrize("path", sorted((ROOT / "criteria").glob("*.yaml")) + [ROOT / "tests/data/rule_kinds.yaml"])
def test_shipped_files_parse(path):
    assert load_criteria(path).model.criteria


def test_a_loaded_file_carries_its_path_and_the_sha256_of_its_bytes(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_bytes(GOOD.encode("utf-8"))
    loaded = load_criteria(path)
    assert isinstance(loaded, LoadedCriteria)
    assert loaded.path == str(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [c.id for c in loaded.model.criteria] == ["a", "b"]
    with pytest.raises(CriteriaError, match="criteria file not found"):
        load_criteria(tmp_path / "missing.yaml")


def test_good_minimal_file_parses():
    assert [c.id for c in parse_criteria(GOOD).criteria] == ["a", "b"]


# (name, edit of GOOD, fragments the message must contain)
MALFORMED = [
    ("bad yaml", GOOD.replace("rule: {kind: age, min: 18}", "rule: {kind: age, min: 18"), ["x.yaml:", "not valid YAML"]),
    ("unknown rule kind", GOOD.replace("kind: age", "kind: agee"), ["x.yaml:12", "criterion a", "rule", "agee"]),
    ("unknown concept set", GOOD.replace("concept_set: sle}\ncohorts", "concept_set: lupus}\ncohorts"),
     ["criterion b", "concept_set", "unknown concept set 'lupus'", "x.yaml:13"]),
    ("wrong comparator", GOOD.replace("rule: {kind: condition, concept_set: sle}",
                                      "rule: {kind: lab, lab: upcr, comparator: '=>', value: 1, unit: g/g}"),
     ["criterion b", "comparator", "x.yaml:16"]),
    ("unit that does not exist", GOOD.replace("rule: {kind: condition, concept_set: sle}",
                                              "rule: {kind: lab, lab: upcr, comparator: '>=', value: 1, unit: furlongs}"),
     ["criterion b", "unknown unit 'furlongs'"]),
    ("unit that cannot express the lab", GOOD.replace(
        "upcr: {name: UPCR, concept_set: sle}", "upcr: {name: UPCR, concept_set: sle, unitless_is: titer}").replace(
        "rule: {kind: condition, concept_set: sle}", "rule: {kind: lab, lab: upcr, comparator: '>=', value: 1, unit: g/g}"),
     ["criterion b", "unit: g/g cannot express lab upcr"]),
    ("duplicate id", GOOD.replace("- id: b", "- id: a"), ["criterion a: duplicate id"]),
    ("missing protocol text", GOOD.replace('    text: "age"\n', ""), ["criterion a", "text", "Field required"]),
    ("cohort names unknown criterion", GOOD.replace("criteria: [a, b]", "criteria: [a, b, zz]"),
     ["cohorts.c.criteria: unknown criterion 'zz'"]),
    ("unknown field", GOOD.replace("rule: {kind: age, min: 18}", "rule: {kind: age, min: 18, maxi: 3}"),
     ["criterion a", "rule.maxi", "field maxi is not supported for rule kind age (supported: min, max)"]),
    ("age bounds reversed", GOOD.replace("min: 18}", "min: 70, max: 18}"), ["criterion a", "min 70 is above max 18"]),
    ("between without max", GOOD.replace("rule: {kind: condition, concept_set: sle}",
                                         "rule: {kind: lab, lab: upcr, comparator: between, value: 1, unit: g/g}"),
     ["criterion b", "between"]),
    ("unknown lab", GOOD.replace("rule: {kind: condition, concept_set: sle}",
                                 "rule: {kind: lab, lab: nope, comparator: '>', value: 1, unit: g/g}"),
     ["criterion b", "unknown lab 'nope'"]),
    ("bad type", GOOD.replace("type: inclusion\n    text: \"age\"", "type: maybe\n    text: \"age\""),
     ["criterion a", "type"]),
    ("negative window", GOOD.replace("concept_set: sle}\ncohorts", "concept_set: sle, within_days: -5}\ncohorts"),
     ["criterion b", "within_days", "greater than 0"]),
    ("concept item with neither id nor code", GOOD.replace("items: [{concept_id: 257628}]", "items: [{name: x}]"),
     ["concept_sets.sle.items[0]", "exactly one of concept_id or code"]),
    ("code without vocabulary", GOOD.replace("items: [{concept_id: 257628}]", "items: [{code: '55464009'}]"),
     ["concept_sets.sle.items[0]", "vocabulary"]),
    ("duplicate yaml key", GOOD.replace("    type: inclusion\n    text: \"age\"",
                                        "    type: inclusion\n    type: exclusion\n    text: \"age\""),
     ["x.yaml:11", "key 'type' given twice"]),
    ("review nested in a rule", GOOD.replace("rule: {kind: condition, concept_set: sle}",
                                             "rule: {kind: all_of, rules: [{kind: review, reason: abc}]}"),
     ["criterion b", "review is a whole criterion"]),
    ("review_if without approximates", GOOD.replace("rule: {kind: age, min: 18}",
                                                     "rule: {kind: age, min: 18}\n    review_if: [pass]"),
     ["criterion a", "review_if needs `approximates`"]),
    ("python object tag", GOOD.replace('version: "1"', "version: !!python/object/apply:os.system ['true']"),
     ["not valid YAML"]),
    ("not a mapping", "- just\n- a list\n", ["expected a mapping"]),
]


@pytest.mark.parametrize("name,text,fragments", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_gives_one_clear_message(name, text, fragments):
    with pytest.raises(CriteriaError) as err:
        parse_criteria(text, "x.yaml")
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, f"{name}: {fragment!r} not in {message!r}"
    assert "Traceback" not in message


def test_yaml_is_loaded_safely(tmp_path):
    marker = tmp_path / "pwned"
    text = GOOD.replace('version: "1"', f"version: !!python/object/apply:os.system ['touch {marker}']")
    with pytest.raises(CriteriaError):
        parse_criteria(text)
    assert not marker.exists()


def test_cli_refuses_a_bad_file_before_any_jvm(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("kind: age", "kind: agee"))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "jobs.cli", "run", "--omop", str(tmp_path), "--out",
                           str(tmp_path / "out"), "--criteria", str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"cohort-finder: error: {bad}:12: criterion a, rule")
    assert "Traceback" not in proc.stderr and "SparkSession" not in proc.stderr
    assert time.perf_counter() - t0 < 20  # no JVM was started (a Spark start alone takes longer on 2 cores)
    assert not (tmp_path / "out").exists()


def _protocol_items(text: str) -> list[str]:
    """Numbered eligibility items of the registry text, in order, e.g. ['gen_inc_1', ..., 'ln_exc_1']."""
    sections = {"General Inclusion Criteria": "gen_inc", "LN-specific Inclusion Criteria": "ln_inc",
                "pMN-specific Inclusion Criteria": "pmn_inc", "General Exclusion Criteria": "gen_exc",
                "LN-specific Exclusion Criteria": "ln_exc"}
    ids, prefix, last_top = [], None, None
    for raw in text.splitlines():
        line = raw.strip().lstrip("•").strip()
        head = line.rstrip(":")
        if head in sections:
            prefix, last_top = sections[head], None
            continue
        if prefix and line[:1].isdigit() and ". " in line:
            n = int(line.split(".", 1)[0])
            if prefix == "gen_exc" and last_top == 8 and n <= 7 and not line.startswith(("9.", "10.")):
                ids.append(f"gen_exc_8_{n}")
                if n == 7:
                    last_top = 8.7
                continue
            ids.append(f"{prefix}_{n}")
            last_top = n
        if line.startswith("About "):
            break
    return ids


@pytest.mark.skipif(not TRIAL.exists(), reason="../shared/trial is not present")
def test_every_protocol_criterion_is_represented(criteria):
    items = _protocol_items(TRIAL.read_text(encoding="utf-8"))
    assert len(items) == 4 + 5 + 4 + 20 + 7 + 1
    ids = {c.id for c in criteria.criteria}
    assert [i for i in items if i not in ids] == []
    for c in criteria.criteria:  # every rule-less item is an explicit review item with a reason
        assert c.text and (not isinstance(c.rule, ReviewRule) or c.rule.reason)
    ln, pmn = criteria.cohorts["ln"].criteria, criteria.cohorts["pmn"].criteria
    general = [i for i in items if i.startswith("gen_")]
    assert set(general) <= set(ln) and set(general) <= set(pmn)
    assert {i for i in items if i.startswith("ln_")} <= set(ln) and not any(i.startswith("ln_") for i in pmn)
    assert {i for i in items if i.startswith("pmn_")} <= set(pmn) and not any(i.startswith("pmn_") for i in ln)


def test_yaml_has_no_code_fields():
    data = yaml.safe_load((ROOT / "criteria" / "nct06557265.yaml").read_text())
    text = str(data)
    for forbidden in ("sql", "expr", "eval", "lambda", "import"):
        assert f"'{forbidden}'" not in text
