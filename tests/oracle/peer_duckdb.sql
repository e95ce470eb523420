-- NCT06557265 (NKX019; lupus nephritis "ln" and primary membranous nephropathy "pmn") written by hand in DuckDB SQL:
-- the peer the Spark job is benchmarked and differentially tested against (tests/benchmarks/README.md).
--
-- Nothing here calls the Spark code. peer_duckdb.py prepares, before this script runs:
--   typed views over the extract  person, death, condition_occurrence, observation, procedure_occurrence,
--                                 drug_exposure, measurement, concept, concept_ancestor (+ `_bad`: a CSV value of a
--                                 column read did not parse; false for Parquet)
--   vocabulary data               shipped_concept, shipped_ancestor (schemas/vocabulary/*.csv)
--   concept-set items             cs_item(set_name, concept_id, vocabulary_id, concept_code, include_descendants,
--                                 exclude, label): the criteria file's items, verbatim (ids/codes, as an analyst
--                                 would paste them)
--   unit data                     unit_def(unit_key, dimension, factor, molar), unit_concept(unit_concept_id,
--                                 unit_key), unit_alias(alias, unit_key) (schemas/units.py, as data)
--   plausibility ranges           lab_range(lab, unit_key, lo, hi) (expectations/lab_values.json)
-- and replaces {{AS_OF}} with the screening date (DATE literal). Result: table peer_status.
--
-- Semantics implemented (README "Semantics"): closed-world events in (as_of - d, as_of]; drug exposure intervals
-- [start, end | start + days_supply - 1 | start] overlapping the window, `min_days` = distinct covered days;
-- ATLAS concept sets (descendants, excluded items); labs = most recent usable result in the lookback (default
-- 90 d), converted by unit; eGFR derived with CKD-EPI 2021 when no measured eGFR; alternative measures (UPCR /
-- 24 h protein: the most recent decides, same day UPCR); x ULN by range_high else default ULN; qualitative
-- positivity; Kleene
-- any/all (SQL's three-valued AND/OR); review_if; rows the quality gate quarantines are never evidence.

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

-- ================================================================ diagnoses (condition_occurrence + observation)
CREATE OR REPLACE TEMP TABLE dx AS
WITH ev AS (
    SELECT person_id, condition_concept_id AS concept_id, condition_start_date AS d
    FROM condition_occurrence
    WHERE NOT _bad AND person_id IS NOT NULL AND condition_concept_id IS NOT NULL
      AND condition_start_date BETWEEN DATE '1900-01-01' AND {{AS_OF}}
      AND (condition_end_date IS NULL OR (condition_end_date >= DATE '1900-01-01'
                                          AND condition_end_date >= condition_start_date))
    UNION ALL
    SELECT person_id, observation_concept_id, observation_date
    FROM observation
    WHERE NOT _bad AND person_id IS NOT NULL AND observation_concept_id IS NOT NULL
      AND observation_date BETWEEN DATE '1900-01-01' AND {{AS_OF}}
), hit AS (
    SELECT e.person_id, m.set_name AS s, {{AS_OF}} - e.d AS ago  -- days before as-of (0 = on as-of)
    FROM ev e JOIN cs_member m USING (concept_id)
)
SELECT person_id,
       count(*) FILTER (s = 'sle')                                  AS sle,
       count(*) FILTER (s = 'ln_class_3_4_5' AND ago < 183)         AS ln_class_183,
       count(*) FILTER (s = 'membranous_primary' AND ago < 183)     AS membranous_183,
       count(*) FILTER (s = 'dialysis_dependence' AND ago < 365)    AS dialysis_dep_365,
       count(*) FILTER (s = 'esrd')                                 AS esrd,
       count(*) FILTER (s = 'transplant_status')                    AS transplant_status,
       count(*) FILTER (s = 'planned_transplant' AND ago < 365)     AS planned_transplant_365,
       count(*) FILTER (s = 'cirrhosis')                            AS cirrhosis,
       count(*) FILTER (s = 'copd_or_asthma')                       AS copd_asthma,
       count(*) FILTER (s = 'unstable_angina' AND ago < 90)         AS unstable_angina_90,
       count(*) FILTER (s = 'myocardial_infarction' AND ago < 84)   AS mi_84,
       count(*) FILTER (s = 'heart_failure')                        AS heart_failure,
       count(*) FILTER (s = 'prolonged_qt' AND ago < 180)           AS prolonged_qt_180,
       count(*) FILTER (s = 'pulmonary_embolism' AND ago < 84)      AS pe_84,
       count(*) FILTER (s = 'bleeding_disorder' AND ago < 365)      AS bleeding_365,
       count(*) FILTER (s = 'secondary_nephropathy')                AS secondary_nephropathy,
       count(*) FILTER (s = 'pregnancy' AND ago < 280)              AS pregnancy_280,
       count(*) FILTER (s = 'covid19' AND ago < 30)                 AS covid_30,
       count(*) FILTER (s = 'chronic_infection')                    AS chronic_infection,
       count(*) FILTER (s = 'malignancy' AND ago < 1826)            AS malignancy_1826,
       count(*) FILTER (s = 'malignancy')                           AS malignancy_ever,
       count(*) FILTER (s IN ('sle', 'mn_viral_causes', 'mn_named_secondary')) AS mn_secondary_cause,
       count(*) FILTER (s = 'cns_lupus' AND ago < 365)              AS cns_lupus_365,
       count(*) FILTER (s = 'antiphospholipid')                     AS antiphospholipid
FROM hit GROUP BY person_id;

-- ================================================================ procedures
CREATE OR REPLACE TEMP TABLE px AS
WITH hit AS (
    SELECT p.person_id, m.set_name AS s, {{AS_OF}} - p.procedure_date AS ago
    FROM procedure_occurrence p JOIN cs_member m ON m.concept_id = p.procedure_concept_id
    WHERE NOT p._bad AND p.person_id IS NOT NULL
      AND p.procedure_date BETWEEN DATE '1900-01-01' AND {{AS_OF}}
)
SELECT person_id,
       count(*) FILTER (s = 'kidney_biopsy' AND ago < 183)      AS biopsy_183,
       count(*) FILTER (s = 'dialysis_procedure' AND ago < 90)  AS dialysis_90,
       count(*) FILTER (s = 'transplant_procedure')             AS transplant_proc,
       count(*) FILTER (s = 'cabg')                             AS cabg
FROM hit GROUP BY person_id;

-- ================================================================ drugs: exposure intervals overlapping the window
CREATE OR REPLACE TEMP TABLE rx AS
WITH ex AS (
    SELECT person_id, drug_concept_id, drug_exposure_start_date AS s0,
           greatest(coalesce(drug_exposure_end_date,
                             CASE WHEN days_supply > 0 THEN drug_exposure_start_date + CAST(days_supply - 1 AS INTEGER) END,
                             drug_exposure_start_date), drug_exposure_start_date) AS e0
    FROM drug_exposure
    WHERE NOT _bad AND person_id IS NOT NULL AND drug_concept_id IS NOT NULL
      AND drug_exposure_start_date BETWEEN DATE '1900-01-01' AND {{AS_OF}}
      AND (drug_exposure_end_date IS NULL OR (drug_exposure_end_date >= DATE '1900-01-01'
                                              AND drug_exposure_end_date >= drug_exposure_start_date))
), hit AS (
    -- e_ago: days from the end of the exposure (capped at as-of) to as-of; overlap with (as_of - w, as_of] <=> e_ago < w
    SELECT x.person_id, m.set_name AS s, m.label, x.s0, least(x.e0, {{AS_OF}}) AS e1, {{AS_OF}} - least(x.e0, {{AS_OF}}) AS e_ago
    FROM ex x JOIN cs_member m ON m.concept_id = x.drug_concept_id
), gc_days AS (
    -- covered days: distinct calendar days of the exposures clipped to the window (the job merges intervals
    -- instead; counting days one by one is the independent check)
    SELECT person_id, count(DISTINCT d) AS gc_90_days
    FROM hit, unnest(generate_series(greatest(s0, {{AS_OF}} - 89)::TIMESTAMP, e1::TIMESTAMP, INTERVAL 1 DAY)) AS t(d)
    WHERE s = 'glucocorticoids' AND e_ago < 90
    GROUP BY person_id
)
SELECT hit.person_id,
       count(*) FILTER (s = 'ras_blockers' AND e_ago < 365)                      AS ras_365,
       count(*) FILTER (s = 'glucocorticoids' AND e_ago < 90)                    AS gc_90,
       any_value(gc_days.gc_90_days)                                             AS gc_90_days,
       count(DISTINCT label) FILTER (s = 'ln_therapies')                         AS ln_therapy_labels,
       count(*) FILTER (s = 'pmn_therapies')                                     AS pmn_therapies,
       count(*) FILTER (s = 'small_molecule_immunosuppressants' AND e_ago < 14)  AS small_molecule_14,
       count(*) FILTER (s = 'antibody_therapies' AND e_ago < 90)                 AS antibody_90,
       count(*) FILTER (s = 'immunoglobulin' AND e_ago < 365)                    AS ivig_365
FROM hit LEFT JOIN gc_days USING (person_id) GROUP BY hit.person_id;

-- ================================================================ labs
-- The labs of the criteria: concept set, the unit each is compared in, the unit its plausibility range is in,
-- molar mass (mass <-> molar conversions), default ULN (in the compared unit) and the unit of results without one.
CREATE OR REPLACE TEMP TABLE lab_def AS
SELECT lab, unit_key, canonical_unit, CAST(molar_mass AS DOUBLE) AS molar_mass,
       CAST(default_uln AS DOUBLE) AS default_uln, unitless_is
FROM (VALUES
    ('upcr',              'g/g',           'g/g',           113.12, NULL, NULL),
    ('urine_protein_24h', 'g/24h',         'g/24h',         NULL,   NULL, NULL),
    ('egfr',              'mL/min/1.73m2', 'mL/min/1.73m2', NULL,   NULL, NULL),
    ('creatinine',        'mg/dL',         'mg/dL',         113.12, NULL, NULL),
    ('wbc',               '/mm3',          '10^3/uL',       NULL,   NULL, NULL),
    ('hemoglobin',        'g/dL',          'g/dL',          NULL,   NULL, NULL),
    ('anc',               '/mm3',          '10^3/uL',       NULL,   NULL, NULL),
    ('platelets',         '/mm3',          '10^3/uL',       NULL,   NULL, NULL),
    ('ast',               'U/L',           'U/L',           NULL,   40.0, NULL),
    ('alt',               'U/L',           'U/L',           NULL,   40.0, NULL),
    ('bilirubin',         'mg/dL',         'mg/dL',         584.66, 1.2,  NULL),
    ('ana_titer',         'titer',         'titer',         NULL,   NULL, 'titer'),
    ('anti_dsdna',        NULL,            NULL,            NULL,   NULL, NULL),
    ('anti_pla2r',        'RU/mL',         'RU/mL',         NULL,   NULL, NULL),
    ('qtc',               'ms',            'ms',            NULL,   NULL, NULL),
    ('sbp',               'mmHg',          'mmHg',          NULL,   NULL, NULL),
    ('dbp',               'mmHg',          'mmHg',          NULL,   NULL, NULL),
    ('spo2',              '%',             '%',             NULL,   NULL, NULL)
) AS t(lab, unit_key, canonical_unit, molar_mass, default_uln, unitless_is);

-- factor to a unit's dimension base; molar units become mass units by the analyte's molar mass
CREATE OR REPLACE TEMP MACRO unit_base(factor, molar, mm) AS
    CASE WHEN molar = 1 THEN factor * coalesce(mm, 1.0::DOUBLE) WHEN molar = -1 THEN 1.0::DOUBLE / coalesce(mm, 1.0::DOUBLE)
         ELSE factor END;

-- multiplier from a result unit into a target unit, per lab (null = not convertible)
CREATE OR REPLACE TEMP TABLE lab_factor AS
SELECT l.lab, t.target, f.unit_key AS from_unit,
       unit_base(f.factor, f.molar, l.molar_mass) / unit_base(u.factor, u.molar, l.molar_mass) AS factor
FROM lab_def l
CROSS JOIN LATERAL (SELECT 'compare' AS target, l.unit_key AS unit UNION ALL SELECT 'canonical', l.canonical_unit) t
JOIN unit_def u ON u.unit_key = t.unit
JOIN unit_def f ON f.dimension = u.dimension
WHERE f.unit_key = u.unit_key OR l.molar_mass IS NOT NULL OR (f.molar = 0 AND u.molar = 0);

-- Lab results of the criteria's labs, unit recognised (unit_concept_id, else the normalised unit_source_value, else
-- the lab's unitless default when no unit is recorded at all), values converted, positivity read.
CREATE OR REPLACE TEMP TABLE lab_row AS
WITH r AS (
    SELECT m.measurement_id, m.person_id, s.set_name AS lab, m.measurement_date AS d, m.value_as_number AS v,
           m.value_as_concept_id AS vc, m.range_high,
           coalesce(uc.unit_key, ua.unit_key,
                    CASE WHEN coalesce(m.unit_concept_id, 0) = 0 AND coalesce(trim(m.unit_source_value), '') = ''
                         THEN l.unitless_is END) AS unit_key
    FROM measurement m
    JOIN cs_member s ON s.concept_id = m.measurement_concept_id
    JOIN lab_def l ON l.lab = s.set_name
    LEFT JOIN unit_concept uc ON uc.unit_concept_id = m.unit_concept_id
    LEFT JOIN unit_alias ua
      ON ua.alias = translate(regexp_replace(lower(trim(m.unit_source_value)), '\s+', '', 'g'), 'µμ', 'uu')
    WHERE NOT m._bad
)
SELECT r.*,
       r.v * fc.factor AS v_cmp,           -- in the criterion's unit
       r.v * fk.factor AS v_canonical,     -- in the plausibility range's unit
       CASE WHEN r.vc IN (9191, 45884084, 4126681, 45877985, 4181412, 45879438) THEN true   -- Positive/Detected/Present
            WHEN r.vc IN (9189, 45878583) THEN false                                         -- Negative
            WHEN r.v IS NOT NULL AND r.range_high > 0 THEN r.v > r.range_high
            WHEN r.v IS NOT NULL THEN false END AS positive
FROM r
LEFT JOIN lab_factor fc ON fc.lab = r.lab AND fc.target = 'compare' AND fc.from_unit = r.unit_key
LEFT JOIN lab_factor fk ON fk.lab = r.lab AND fk.target = 'canonical' AND fk.from_unit = r.unit_key;

-- The quality gate's lab rules: negative values, numbers without a convertible unit, values outside the lab's
-- plausible range are never evidence (for any reading of the row, qualitative included).
CREATE OR REPLACE TEMP TABLE lab_ok AS
SELECT r.* FROM lab_row r
LEFT JOIN lab_range g ON g.lab = r.lab
WHERE NOT (coalesce(r.v < 0, false))
  AND NOT (r.v IS NOT NULL AND CASE WHEN g.lab IS NOT NULL THEN r.v_canonical IS NULL ELSE r.unit_key IS NULL END)
  AND NOT (g.lab IS NOT NULL AND r.v_canonical IS NOT NULL
           AND (r.v_canonical < coalesce(g.lo, '-inf'::DOUBLE) OR r.v_canonical > coalesce(g.hi, 'inf'::DOUBLE)));

-- Per person: the latest usable result (ties: the larger measurement_id) per lab and lookback, in the criterion's unit.
CREATE OR REPLACE TEMP TABLE lab AS
WITH w AS (SELECT *, {{AS_OF}} - d AS ago, {'d': d, 'id': measurement_id} AS k FROM lab_ok WHERE d <= {{AS_OF}})
SELECT person_id,
       arg_max(v_cmp, k) FILTER (lab = 'upcr' AND ago < 90 AND v_cmp IS NOT NULL)              AS upcr_gg,
       arg_max(v_cmp, k) FILTER (lab = 'urine_protein_24h' AND ago < 90 AND v_cmp IS NOT NULL) AS up24_g,
       max(d) FILTER (lab = 'upcr' AND ago < 90 AND v_cmp IS NOT NULL)                         AS upcr_d,
       max(d) FILTER (lab = 'urine_protein_24h' AND ago < 90 AND v_cmp IS NOT NULL)            AS up24_d,
       arg_max(v_cmp, k) FILTER (lab = 'egfr' AND ago < 90 AND v_cmp IS NOT NULL)              AS egfr,
       arg_max(v_cmp, k) FILTER (lab = 'creatinine' AND ago < 90 AND v_cmp IS NOT NULL)        AS creat_mgdl,
       arg_max(d, k) FILTER (lab = 'creatinine' AND ago < 90 AND v_cmp IS NOT NULL)            AS creat_date,
       arg_max(v_cmp, k) FILTER (lab = 'wbc' AND ago < 90 AND v_cmp IS NOT NULL)               AS wbc_mm3,
       arg_max(v_cmp, k) FILTER (lab = 'hemoglobin' AND ago < 90 AND v_cmp IS NOT NULL)        AS hgb_gdl,
       arg_max(v_cmp, k) FILTER (lab = 'anc' AND ago < 90 AND v_cmp IS NOT NULL)               AS anc_mm3,
       arg_max(v_cmp, k) FILTER (lab = 'platelets' AND ago < 90 AND v_cmp IS NOT NULL)         AS plt_mm3,
       arg_max(v_cmp, k) FILTER (lab = 'spo2' AND ago < 90 AND v_cmp IS NOT NULL)              AS spo2_pct,
       arg_max(v_cmp, k) FILTER (lab = 'qtc' AND ago < 180 AND v_cmp IS NOT NULL)              AS qtc_ms,
       arg_max(v_cmp, k) FILTER (lab = 'sbp' AND ago < 90 AND v_cmp IS NOT NULL)               AS sbp,
       arg_max(v_cmp, k) FILTER (lab = 'dbp' AND ago < 90 AND v_cmp IS NOT NULL)               AS dbp,
       -- x ULN: the result's range_high (same unit as the result), else the default ULN
       arg_max(CASE WHEN range_high > 0 THEN v / range_high ELSE v_cmp / 40.0 END, k)
           FILTER (lab = 'ast' AND ago < 90 AND v_cmp IS NOT NULL)                             AS ast_uln,
       arg_max(CASE WHEN range_high > 0 THEN v / range_high ELSE v_cmp / 40.0 END, k)
           FILTER (lab = 'alt' AND ago < 90 AND v_cmp IS NOT NULL)                             AS alt_uln,
       arg_max(CASE WHEN range_high > 0 THEN v / range_high ELSE v_cmp / 1.2 END, k)
           FILTER (lab = 'bilirubin' AND ago < 90 AND v_cmp IS NOT NULL)                       AS bili_uln,
       -- whole history
       max(v_cmp) FILTER (lab = 'ana_titer')                                                  AS ana_titer_max,
       bool_or(positive) FILTER (lab = 'ana_titer' AND positive IS NOT NULL)                  AS ana_pos,
       bool_or(positive) FILTER (lab = 'anti_dsdna' AND positive IS NOT NULL)                 AS dsdna_pos,
       arg_max(v_cmp, k) FILTER (lab = 'anti_pla2r' AND v_cmp IS NOT NULL)                    AS pla2r_ru,
       bool_or(positive) FILTER (lab = 'anti_pla2r' AND positive IS NOT NULL)                 AS pla2r_pos
FROM w GROUP BY person_id;

-- ================================================================ one row per person: every criterion's truth
CREATE OR REPLACE TEMP TABLE truth AS
WITH f AS (
    SELECT d.person_id, d.sex, d.birth_date, d.deceased,
           age_years(d.birth_date, {{AS_OF}}) AS age,
           dx.* EXCLUDE (person_id), px.* EXCLUDE (person_id), rx.* EXCLUDE (person_id), lab.* EXCLUDE (person_id)
    FROM demo d
    LEFT JOIN dx USING (person_id) LEFT JOIN px USING (person_id) LEFT JOIN rx USING (person_id)
    LEFT JOIN lab USING (person_id)
), e AS (
    SELECT *,
           -- measured eGFR in 90 days, else CKD-EPI 2021 (race-free) from the latest creatinine (mg/dL), age at that
           -- result and sex
           coalesce(egfr, CASE WHEN creat_mgdl > 0 AND sex IS NOT NULL AND age_years(birth_date, creat_date) IS NOT NULL THEN
               142 * pow(least(creat_mgdl / CASE sex WHEN 'female' THEN 0.7 ELSE 0.9 END, 1.0),
                         CASE sex WHEN 'female' THEN -0.241 ELSE -0.302 END)
                   * pow(greatest(creat_mgdl / CASE sex WHEN 'female' THEN 0.7 ELSE 0.9 END, 1.0), -1.200)
                   * pow(0.9938, age_years(birth_date, creat_date))
                   * CASE sex WHEN 'female' THEN 1.012 ELSE 1.0 END END) AS egfr_any
    FROM f
)
SELECT person_id,
    NOT deceased                                                            AS sys_alive,
    age >= 18 AND age <= 65                                                 AS gen_inc_1,
    coalesce(ras_365, 0) >= 1                                               AS gen_inc_2,
    coalesce(sle, 0) >= 1                                                   AS ln_inc_1,
    coalesce(biopsy_183, 0) >= 1 AND coalesce(ln_class_183, 0) >= 1         AS ln_inc_2,
    -- alternatives: UPCR and 24 h protein measure one quantity; the more recent decides, same day UPCR
    CASE WHEN upcr_d >= coalesce(up24_d, upcr_d) THEN upcr_gg >= 1.5
         WHEN up24_d IS NOT NULL THEN up24_g >= 1.5 AND up24_g <= 7 END    AS ln_inc_3,
    ana_titer_max >= 80 OR ana_pos OR dsdna_pos                             AS ln_inc_4,
    coalesce(ln_therapy_labels, 0) >= 2                                     AS ln_inc_5,
    coalesce(biopsy_183, 0) >= 1 AND coalesce(membranous_183, 0) >= 1       AS pmn_inc_1,
    CASE WHEN upcr_d >= coalesce(up24_d, upcr_d) THEN upcr_gg >= 3.5
         WHEN up24_d IS NOT NULL THEN up24_g >= 3.5 END                     AS pmn_inc_2,
    pla2r_ru >= 20 OR pla2r_pos                                             AS pmn_inc_3,
    coalesce(pmn_therapies, 0) >= 1                                         AS pmn_inc_4,
    egfr_any < 45                                                           AS gen_exc_1,
    coalesce(dialysis_90, 0) >= 1 OR coalesce(dialysis_dep_365, 0) >= 1 OR coalesce(esrd, 0) >= 1 AS gen_exc_2,
    coalesce(transplant_proc, 0) >= 1 OR coalesce(transplant_status, 0) >= 1
        OR coalesce(planned_transplant_365, 0) >= 1                         AS gen_exc_3,
    coalesce(ivig_365, 0) >= 2                                              AS gen_exc_4,
    coalesce(cirrhosis, 0) >= 1 OR ast_uln >= 3 OR alt_uln >= 3 OR bili_uln >= 3 AS gen_exc_5,
    (coalesce(copd_asthma, 0) >= 1 AND coalesce(gc_90, 0) >= 1 AND coalesce(gc_90_days, 0) >= 30)
        OR spo2_pct < 92                                                    AS gen_exc_6,
    wbc_mm3 < 3000 OR hgb_gdl < 9 OR anc_mm3 < 2000 OR plt_mm3 < 100000     AS gen_exc_7,
    coalesce(unstable_angina_90, 0) >= 1                                    AS gen_exc_8_1,
    coalesce(mi_84, 0) >= 1                                                 AS gen_exc_8_2,
    coalesce(cabg, 0) >= 1                                                  AS gen_exc_8_3,
    coalesce(heart_failure, 0) >= 1                                         AS gen_exc_8_4,
    qtc_ms > 480 OR coalesce(prolonged_qt_180, 0) >= 1                      AS gen_exc_8_5,
    coalesce(pe_84, 0) >= 1                                                 AS gen_exc_8_6,
    sbp > 160 AND dbp > 90                                                  AS gen_exc_8_7,
    coalesce(bleeding_365, 0) >= 1                                          AS gen_exc_9,
    coalesce(secondary_nephropathy, 0) >= 1                                 AS gen_exc_10,
    coalesce(pregnancy_280, 0) >= 1                                         AS gen_exc_11,
    coalesce(covid_30, 0) >= 1                                              AS gen_exc_12,
    coalesce(chronic_infection, 0) >= 1                                     AS gen_exc_13,
    coalesce(malignancy_1826, 0) >= 1                                       AS gen_exc_14,
    coalesce(cns_lupus_365, 0) >= 1                                         AS gen_exc_16,
    coalesce(small_molecule_14, 0) >= 1 OR coalesce(antibody_90, 0) >= 1   AS gen_exc_18,
    coalesce(antiphospholipid, 0) >= 1                                      AS ln_exc_1,
    -- pMN: a recorded secondary cause of membranous nephropathy (SLE, HBV/HCV/HIV, named secondary MN) fails;
    -- a malignancy at any time goes to review
    coalesce(mn_secondary_cause, 0) >= 1                                    AS pmn_exc_1,
    coalesce(malignancy_ever, 0) >= 1                                       AS pmn_exc_2
FROM e;

-- ================================================================ outcomes: pass / fail / unknown / review
-- inclusion: true -> pass; exclusion: true -> fail; null -> unknown; review_if turns pass (or fail) into review.
CREATE OR REPLACE TEMP MACRO incl(t) AS CASE WHEN t IS NULL THEN 'unknown' WHEN t THEN 'pass' ELSE 'fail' END;
CREATE OR REPLACE TEMP MACRO excl(t) AS CASE WHEN t IS NULL THEN 'unknown' WHEN t THEN 'fail' ELSE 'pass' END;
CREATE OR REPLACE TEMP MACRO review_pass(o) AS CASE WHEN o = 'pass' THEN 'review' ELSE o END;
CREATE OR REPLACE TEMP MACRO review_fail(o) AS CASE WHEN o = 'fail' THEN 'review' ELSE o END;

CREATE OR REPLACE TEMP TABLE outcome AS
SELECT person_id, criterion, o FROM (
    SELECT person_id,
        incl(sys_alive)                      AS sys_alive,
        incl(gen_inc_1)                      AS gen_inc_1,
        review_pass(incl(gen_inc_2))         AS gen_inc_2,
        'review'                             AS gen_inc_3,
        'review'                             AS gen_inc_4,
        review_pass(incl(ln_inc_1))          AS ln_inc_1,
        review_pass(incl(ln_inc_2))          AS ln_inc_2,
        incl(ln_inc_3)                       AS ln_inc_3,
        incl(ln_inc_4)                       AS ln_inc_4,
        review_pass(incl(ln_inc_5))          AS ln_inc_5,
        incl(pmn_inc_1)                      AS pmn_inc_1,
        incl(pmn_inc_2)                      AS pmn_inc_2,
        incl(pmn_inc_3)                      AS pmn_inc_3,
        review_pass(incl(pmn_inc_4))         AS pmn_inc_4,
        excl(gen_exc_1)                      AS gen_exc_1,
        review_pass(excl(gen_exc_2))         AS gen_exc_2,
        review_pass(excl(gen_exc_3))         AS gen_exc_3,
        review_pass(excl(gen_exc_4))         AS gen_exc_4,
        review_pass(excl(gen_exc_5))         AS gen_exc_5,
        review_pass(excl(gen_exc_6))         AS gen_exc_6,
        excl(gen_exc_7)                      AS gen_exc_7,
        'review'                             AS gen_exc_8,
        review_pass(excl(gen_exc_8_1))       AS gen_exc_8_1,
        excl(gen_exc_8_2)                    AS gen_exc_8_2,
        excl(gen_exc_8_3)                    AS gen_exc_8_3,
        review_fail(excl(gen_exc_8_4))       AS gen_exc_8_4,
        excl(gen_exc_8_5)                    AS gen_exc_8_5,
        review_pass(excl(gen_exc_8_6))       AS gen_exc_8_6,
        excl(gen_exc_8_7)                    AS gen_exc_8_7,
        review_pass(excl(gen_exc_9))         AS gen_exc_9,
        review_pass(excl(gen_exc_10))        AS gen_exc_10,
        review_pass(excl(gen_exc_11))        AS gen_exc_11,
        review_pass(excl(gen_exc_12))        AS gen_exc_12,
        review_pass(excl(gen_exc_13))        AS gen_exc_13,
        excl(gen_exc_14)                     AS gen_exc_14,
        'review'                             AS gen_exc_15,
        review_pass(excl(gen_exc_16))        AS gen_exc_16,
        'review'                             AS gen_exc_17,
        review_pass(excl(gen_exc_18))        AS gen_exc_18,
        'review'                             AS gen_exc_19,
        'review'                             AS gen_exc_20,
        review_pass(excl(ln_exc_1))          AS ln_exc_1,
        excl(pmn_exc_1)                      AS pmn_exc_1,
        review_fail(excl(pmn_exc_2))         AS pmn_exc_2
    FROM truth
) UNPIVOT (o FOR criterion IN (COLUMNS(* EXCLUDE (person_id))));

-- ================================================================ cohorts (protocol order) and status
CREATE OR REPLACE TEMP TABLE cohort_criterion AS
SELECT cohort, criterion, ord FROM (
    SELECT 'ln' AS cohort, unnest(['sys_alive', 'gen_inc_1', 'gen_inc_2', 'gen_inc_3', 'gen_inc_4', 'ln_inc_1',
        'ln_inc_2', 'ln_inc_3', 'ln_inc_4', 'ln_inc_5', 'gen_exc_1', 'gen_exc_2', 'gen_exc_3', 'gen_exc_4', 'gen_exc_5',
        'gen_exc_6', 'gen_exc_7', 'gen_exc_8', 'gen_exc_8_1', 'gen_exc_8_2', 'gen_exc_8_3', 'gen_exc_8_4', 'gen_exc_8_5',
        'gen_exc_8_6', 'gen_exc_8_7', 'gen_exc_9', 'gen_exc_10', 'gen_exc_11', 'gen_exc_12', 'gen_exc_13', 'gen_exc_14',
        'gen_exc_15', 'gen_exc_16', 'gen_exc_17', 'gen_exc_18', 'gen_exc_19', 'gen_exc_20', 'ln_exc_1']) AS criterion,
        generate_subscripts(['sys_alive', 'gen_inc_1', 'gen_inc_2', 'gen_inc_3', 'gen_inc_4', 'ln_inc_1',
        'ln_inc_2', 'ln_inc_3', 'ln_inc_4', 'ln_inc_5', 'gen_exc_1', 'gen_exc_2', 'gen_exc_3', 'gen_exc_4', 'gen_exc_5',
        'gen_exc_6', 'gen_exc_7', 'gen_exc_8', 'gen_exc_8_1', 'gen_exc_8_2', 'gen_exc_8_3', 'gen_exc_8_4', 'gen_exc_8_5',
        'gen_exc_8_6', 'gen_exc_8_7', 'gen_exc_9', 'gen_exc_10', 'gen_exc_11', 'gen_exc_12', 'gen_exc_13', 'gen_exc_14',
        'gen_exc_15', 'gen_exc_16', 'gen_exc_17', 'gen_exc_18', 'gen_exc_19', 'gen_exc_20', 'ln_exc_1'], 1) AS ord
    UNION ALL
    SELECT 'pmn', unnest(['sys_alive', 'gen_inc_1', 'gen_inc_2', 'gen_inc_3', 'gen_inc_4', 'pmn_inc_1', 'pmn_inc_2',
        'pmn_inc_3', 'pmn_inc_4', 'gen_exc_1', 'gen_exc_2', 'gen_exc_3', 'gen_exc_4', 'gen_exc_5', 'gen_exc_6',
        'gen_exc_7', 'gen_exc_8', 'gen_exc_8_1', 'gen_exc_8_2', 'gen_exc_8_3', 'gen_exc_8_4', 'gen_exc_8_5',
        'gen_exc_8_6', 'gen_exc_8_7', 'gen_exc_9', 'gen_exc_10', 'gen_exc_11', 'gen_exc_12', 'gen_exc_13', 'gen_exc_14',
        'gen_exc_15', 'gen_exc_16', 'gen_exc_17', 'gen_exc_18', 'gen_exc_19', 'gen_exc_20', 'pmn_exc_1',
        'pmn_exc_2']),
        generate_subscripts(['sys_alive', 'gen_inc_1', 'gen_inc_2', 'gen_inc_3', 'gen_inc_4', 'pmn_inc_1', 'pmn_inc_2',
        'pmn_inc_3', 'pmn_inc_4', 'gen_exc_1', 'gen_exc_2', 'gen_exc_3', 'gen_exc_4', 'gen_exc_5', 'gen_exc_6',
        'gen_exc_7', 'gen_exc_8', 'gen_exc_8_1', 'gen_exc_8_2', 'gen_exc_8_3', 'gen_exc_8_4', 'gen_exc_8_5',
        'gen_exc_8_6', 'gen_exc_8_7', 'gen_exc_9', 'gen_exc_10', 'gen_exc_11', 'gen_exc_12', 'gen_exc_13', 'gen_exc_14',
        'gen_exc_15', 'gen_exc_16', 'gen_exc_17', 'gen_exc_18', 'gen_exc_19', 'gen_exc_20', 'pmn_exc_1',
        'pmn_exc_2'], 1)
);

CREATE OR REPLACE TEMP TABLE peer_status AS
SELECT c.cohort, o.person_id,
       CASE WHEN count(*) FILTER (o.o = 'fail') > 0 THEN 'ineligible'
            WHEN count(*) FILTER (o.o = 'unknown') > 0 THEN 'possible'
            ELSE 'eligible' END AS status,
       coalesce(list(o.criterion ORDER BY c.ord) FILTER (o.o = 'fail'), [])    AS failed,
       coalesce(list(o.criterion ORDER BY c.ord) FILTER (o.o = 'unknown'), []) AS unknown,
       coalesce(list(o.criterion ORDER BY c.ord) FILTER (o.o = 'review'), [])  AS review
FROM outcome o JOIN cohort_criterion c USING (criterion)
GROUP BY c.cohort, o.person_id;
