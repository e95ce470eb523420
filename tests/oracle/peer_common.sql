-- Shared blocks of the hand-written peers of NCT03987919 and NCT03036150 (peer_nct03987919.sql,
-- peer_nct03036150.sql include it with `-- @include peer_common.sql`): ATLAS concept sets, demographics at as-of,
-- and the long event tables (diagnoses, procedures, drug intervals) every rule of those files reads.
-- The same semantics as peer_duckdb.sql (NCT06557265), which keeps its own copy so it stays self-contained.

-- ================================================================ vocabulary: concept sets (ATLAS semantics)
CREATE OR REPLACE TEMP TABLE code_id AS
SELECT vocabulary_id, concept_code, min(concept_id) AS concept_id
FROM (SELECT concept_id, vocabulary_id, concept_code FROM concept
      UNION ALL SELECT concept_id, vocabulary_id, concept_code FROM shipped_concept)
WHERE (vocabulary_id, concept_code) IN (SELECT vocabulary_id, concept_code FROM cs_item WHERE concept_code IS NOT NULL)
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE cs_item_resolved AS
SELECT i.set_name, coalesce(i.concept_id, c.concept_id) AS item_id, i.include_descendants, i.exclude, i.label
FROM cs_item i
LEFT JOIN code_id c ON i.concept_id IS NULL AND c.vocabulary_id = i.vocabulary_id AND c.concept_code = i.concept_code
WHERE coalesce(i.concept_id, c.concept_id) IS NOT NULL;  -- codes that resolve nowhere are dropped (and listed by the runner)

CREATE OR REPLACE TEMP TABLE cs_reach AS
SELECT set_name, item_id, exclude, label, item_id AS concept_id FROM cs_item_resolved
UNION
SELECT i.set_name, i.item_id, i.exclude, i.label, a.descendant_concept_id
FROM cs_item_resolved i
JOIN (SELECT ancestor_concept_id, descendant_concept_id FROM concept_ancestor
      UNION SELECT ancestor_concept_id, descendant_concept_id FROM shipped_ancestor) a
  ON a.ancestor_concept_id = i.item_id
WHERE i.include_descendants;

-- one row per (set, concept); the lowest item id (and its label) wins; excluded items and their descendants removed
CREATE OR REPLACE TEMP TABLE cs_member AS
SELECT r.set_name, r.concept_id, min(r.item_id) AS item_id, arg_min(r.label, r.item_id) AS label
FROM cs_reach r
WHERE NOT r.exclude
  AND NOT EXISTS (SELECT 1 FROM cs_reach x WHERE x.exclude AND x.set_name = r.set_name AND x.concept_id = r.concept_id)
GROUP BY ALL;

-- ================================================================ demographics at as-of
CREATE OR REPLACE TEMP TABLE demo AS
WITH p AS (
    SELECT person_id, gender_concept_id,
           coalesce(CAST(birth_datetime AS DATE),
                    TRY_CAST(printf('%04d-%02d-%02d', year_of_birth, coalesce(month_of_birth, 7),
                                    coalesce(day_of_birth, CASE WHEN month_of_birth IS NULL THEN 1 ELSE 15 END))
                             AS DATE)) AS birth_date
    FROM person
)
SELECT p.person_id,
       CASE p.gender_concept_id WHEN 8532 THEN 'female' WHEN 8507 THEN 'male' END AS sex,
       p.birth_date,
       -- deceased: a usable death record (1900-01-01 .. as-of; others are quarantined) on or before as-of
       EXISTS (SELECT 1 FROM death d WHERE d.person_id = p.person_id AND NOT d._bad
               AND d.death_date BETWEEN DATE '1900-01-01' AND {{AS_OF}}) AS deceased
FROM p;

-- whole years between two dates
CREATE OR REPLACE TEMP MACRO age_years(born, on_day) AS
    year(on_day) - year(born) - CASE WHEN month(on_day) * 100 + day(on_day) < month(born) * 100 + day(born)
                                     THEN 1 ELSE 0 END;

-- ================================================================ events, long: one row per record of a concept set
-- diagnoses (condition_occurrence + observation); `ago` = days before as-of (0 = on as-of), `d` the date and
-- `vid` the record's visit_occurrence_id (for rules on the visit it happened during)
CREATE OR REPLACE TEMP TABLE dx_hit AS
WITH ev AS (
    SELECT person_id, condition_concept_id AS concept_id, condition_start_date AS d, visit_occurrence_id AS vid
    FROM condition_occurrence
    WHERE NOT _bad AND person_id IS NOT NULL AND condition_concept_id IS NOT NULL
      AND condition_start_date BETWEEN DATE '1900-01-01' AND {{AS_OF}}
      AND (condition_end_date IS NULL OR (condition_end_date >= DATE '1900-01-01'
                                          AND condition_end_date >= condition_start_date))
    UNION ALL
    SELECT person_id, observation_concept_id, observation_date, visit_occurrence_id
    FROM observation
    WHERE NOT _bad AND person_id IS NOT NULL AND observation_concept_id IS NOT NULL
      AND observation_date BETWEEN DATE '1900-01-01' AND {{AS_OF}}
)
SELECT e.person_id, m.set_name AS s, {{AS_OF}} - e.d AS ago, e.d, e.vid
FROM ev e JOIN cs_member m USING (concept_id);

CREATE OR REPLACE TEMP TABLE px_hit AS
SELECT p.person_id, m.set_name AS s, {{AS_OF}} - p.procedure_date AS ago
FROM procedure_occurrence p JOIN cs_member m ON m.concept_id = p.procedure_concept_id
WHERE NOT p._bad AND p.person_id IS NOT NULL
  AND p.procedure_date BETWEEN DATE '1900-01-01' AND {{AS_OF}};

-- drug exposure intervals [start, end | start + days_supply - 1 | start], capped at as-of; e_ago < w <=> the
-- interval overlaps (as_of - w, as_of]; with the fields a daily dose needs (id, set item, quantity, supply)
CREATE OR REPLACE TEMP TABLE rx_hit AS
WITH ex AS (
    SELECT drug_exposure_id, person_id, drug_concept_id, quantity, days_supply, drug_exposure_start_date AS s0,
           greatest(coalesce(drug_exposure_end_date,
                             CASE WHEN days_supply > 0 THEN drug_exposure_start_date + CAST(days_supply - 1 AS INTEGER) END,
                             drug_exposure_start_date), drug_exposure_start_date) AS e0
    FROM drug_exposure
    WHERE NOT _bad AND person_id IS NOT NULL AND drug_concept_id IS NOT NULL
      AND drug_exposure_start_date BETWEEN DATE '1900-01-01' AND {{AS_OF}}
      AND (drug_exposure_end_date IS NULL OR (drug_exposure_end_date >= DATE '1900-01-01'
                                              AND drug_exposure_end_date >= drug_exposure_start_date))
)
SELECT x.person_id, m.set_name AS s, m.label, x.s0, least(x.e0, {{AS_OF}}) AS e1,
       {{AS_OF}} - least(x.e0, {{AS_OF}}) AS e_ago,
       x.drug_exposure_id, x.drug_concept_id, m.item_id, x.quantity, x.days_supply
FROM ex x JOIN cs_member m ON m.concept_id = x.drug_concept_id;

