-- NCT03987919 (SURPASS-2; cohort "t2dm") written by hand in DuckDB SQL: the peer the Spark job's statuses are
-- compared with on generated data (tests/e2e/test_peer_duckdb.py). Inputs are prepared by peer_duckdb.py as for
-- peer_duckdb.sql (typed views, cs_item from criteria/nct03987919.yaml, units, lab_range); {{AS_OF}} is the
-- screening date. Nothing here calls the Spark code. Result: table peer_status.

-- @include peer_common.sql

-- ================================================================ labs (unit each is compared in; gate ranges)
CREATE OR REPLACE TEMP TABLE lab_def AS
SELECT lab, unit_key, canonical_unit, CAST(molar_mass AS DOUBLE) AS molar_mass,
       CAST(default_uln AS DOUBLE) AS default_uln, unitless_is, equation
FROM (VALUES
    ('hba1c',      '%',             '%',             NULL,   NULL, NULL, 'hba1c_ifcc_ngsp'),
    ('egfr',       'mL/min/1.73m2', 'mL/min/1.73m2', NULL,   NULL, NULL, NULL),
    ('creatinine', 'mg/dL',         'mg/dL',         113.12, NULL, NULL, NULL),
    ('alt',        'U/L',           'U/L',           NULL,   40.0, NULL, NULL),
    ('weight',     'kg',            'kg',            NULL,   NULL, NULL, NULL),
    ('height',     'cm',            'cm',            NULL,   NULL, NULL, NULL),
    ('bmi',        'kg/m2',         'kg/m2',         NULL,   NULL, NULL, NULL)
) AS t(lab, unit_key, canonical_unit, molar_mass, default_uln, unitless_is, equation);

-- @include peer_labs.sql

CREATE OR REPLACE TEMP TABLE lab AS
WITH w AS (SELECT *, {{AS_OF}} - d AS ago, {'d': d, 'id': measurement_id} AS k FROM lab_ok WHERE d <= {{AS_OF}})
SELECT person_id,
       arg_max(v_cmp, k) FILTER (lab = 'hba1c' AND ago < 90 AND v_cmp IS NOT NULL)       AS hba1c_pct,
       arg_max(v_cmp, k) FILTER (lab = 'egfr' AND ago < 90 AND v_cmp IS NOT NULL)        AS egfr,
       arg_max(v_cmp, k) FILTER (lab = 'creatinine' AND ago < 90 AND v_cmp IS NOT NULL)  AS creat_mgdl,
       arg_max(d, k) FILTER (lab = 'creatinine' AND ago < 90 AND v_cmp IS NOT NULL)      AS creat_date,
       arg_max(CASE WHEN range_high > 0 THEN v / range_high ELSE v_cmp / 40.0 END, k)
           FILTER (lab = 'alt' AND ago < 90 AND v_cmp IS NOT NULL)                       AS alt_uln,
       -- BMI: a measured BMI of 90 days, else the latest weight of 90 days / (latest height ever)^2
       arg_max(v_cmp, k) FILTER (lab = 'bmi' AND ago < 90 AND v_cmp IS NOT NULL)         AS bmi_measured,
       arg_max(v_cmp, k) FILTER (lab = 'weight' AND ago < 90 AND v_cmp IS NOT NULL)      AS weight_90,
       arg_max(v_cmp, k) FILTER (lab = 'height' AND v_cmp IS NOT NULL)                   AS height_ever,
       -- weight stability: every usable weight of 120 days
       min(v_cmp) FILTER (lab = 'weight' AND ago < 120 AND v_cmp IS NOT NULL)            AS w_min,
       max(v_cmp) FILTER (lab = 'weight' AND ago < 120 AND v_cmp IS NOT NULL)            AS w_max,
       min(d) FILTER (lab = 'weight' AND ago < 120 AND v_cmp IS NOT NULL)                AS w_first,
       max(d) FILTER (lab = 'weight' AND ago < 120 AND v_cmp IS NOT NULL)                AS w_last
FROM w GROUP BY person_id;

-- ================================================================ per person: every criterion's truth
CREATE OR REPLACE TEMP TABLE dx AS
SELECT person_id,
       count(*) FILTER (s = 't2dm')                                                AS t2dm,
       count(*) FILTER (s = 't1dm')                                                AS t1dm,
       count(*) FILTER (s = 'pancreatitis')                                        AS pancreatitis,
       count(*) FILTER (s = 'proliferative_retinopathy_or_maculopathy')            AS pdr,
       count(*) FILTER (s = 'slowed_gastric_emptying')                             AS gastroparesis,
       count(*) FILTER (s = 'liver_disease')                                       AS liver,
       count(*) FILTER (s IN ('myocardial_infarction', 'stroke') AND ago < 60)     AS cv_60,
       count(*) FILTER (s = 'mtc_or_men2')                                         AS mtc_men2
FROM dx_hit GROUP BY person_id;

-- heart failure during an inpatient (9201) or ER-and-inpatient (262) visit in 60 days: the record's own visit,
-- or, for a record without a visit id, a visit of the person whose span holds its date
CREATE OR REPLACE TEMP TABLE hf_hosp AS
WITH ip AS (
    SELECT visit_occurrence_id, person_id, visit_start_date AS v0, coalesce(visit_end_date, visit_start_date) AS v1
    FROM visit_occurrence WHERE NOT _bad AND visit_concept_id IN (9201, 262)
)
SELECT e.person_id, count(*) AS hf_hosp_60
FROM dx_hit e
WHERE e.s IN ('heart_failure', 'heart_failure_acute') AND e.ago < 60
  AND EXISTS (SELECT 1 FROM ip WHERE (e.vid IS NOT NULL AND ip.visit_occurrence_id = e.vid)
                                  OR (e.vid IS NULL AND ip.person_id = e.person_id AND e.d BETWEEN ip.v0 AND ip.v1))
GROUP BY e.person_id;

CREATE OR REPLACE TEMP TABLE px AS
SELECT person_id, count(*) FILTER (s = 'bariatric_surgery') AS bariatric FROM px_hit GROUP BY person_id;

-- continuous_days 90, max_gap_days 7: metformin intervals clipped to [as_of - 89, as_of], merged into runs when
-- at most 7 uncovered days separate them; the last run counts when it ends 7 days or less before as-of, and its
-- length runs from its first day to as-of
CREATE OR REPLACE TEMP TABLE metformin_run AS
WITH iv AS (
    SELECT person_id, greatest(s0, {{AS_OF}} - 89) AS a, e1 AS b FROM rx_hit WHERE s = 'metformin' AND e_ago < 90
), o AS (
    SELECT *, max(b) OVER (PARTITION BY person_id ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
              AS prev_end
    FROM iv
), g AS (
    SELECT *, sum(CASE WHEN prev_end IS NULL OR a - prev_end - 1 > 7 THEN 1 ELSE 0 END)
                  OVER (PARTITION BY person_id ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS island
    FROM o
), runs AS (
    SELECT person_id, island, min(a) AS run_start, max(b) AS run_end FROM g GROUP BY ALL
)
SELECT person_id, CASE WHEN {{AS_OF}} - max(run_end) <= 7 THEN {{AS_OF}} - arg_max(run_start, run_end) + 1 ELSE 0 END
       AS metformin_run_90
FROM runs GROUP BY person_id;

-- drug_dose > 1500 mg/24h: the latest metformin exposure overlapping the 90 days (by start, then the larger id);
-- amount_value (mg, g or ug) of drug_strength for (its drug, the set item as ingredient) x quantity / days_supply
CREATE OR REPLACE TEMP TABLE metformin_dose AS
WITH latest AS (
    SELECT person_id, arg_max(x, (s0, drug_exposure_id)) AS e
    FROM rx_hit x WHERE s = 'metformin' AND e_ago < 90 GROUP BY person_id
), strength AS (
    SELECT drug_concept_id, ingredient_concept_id,
           arg_max(amount_value * CASE amount_unit_concept_id WHEN 8576 THEN 1.0 WHEN 8504 THEN 1000.0
                                                              WHEN 9655 THEN 0.001 END,
                   (amount_value IS NOT NULL, amount_value, amount_unit_concept_id)) AS mg
    FROM drug_strength WHERE NOT _bad AND invalid_reason IS NULL GROUP BY ALL
)
SELECT l.person_id,
       CASE WHEN l.e.quantity > 0 AND l.e.days_supply > 0 THEN s.mg * l.e.quantity / l.e.days_supply END AS metformin_mg_day
FROM latest l LEFT JOIN strength s ON s.drug_concept_id = l.e.drug_concept_id AND s.ingredient_concept_id = l.e.item_id;

CREATE OR REPLACE TEMP TABLE rx AS
SELECT person_id,
       count(*) FILTER (s = 'metformin' AND e_ago < 90)                                     AS metformin_90,
       any_value(c.metformin_run_90)                                                        AS metformin_run_90,
       any_value(md.metformin_mg_day)                                                       AS metformin_mg_day,
       count(*) FILTER (s = 'other_diabetes_drugs' AND e_ago < 90)                          AS other_dm_90
FROM rx_hit LEFT JOIN metformin_run c USING (person_id) LEFT JOIN metformin_dose md USING (person_id)
GROUP BY person_id;

CREATE OR REPLACE TEMP TABLE truth AS
WITH f AS (
    SELECT d.person_id, d.sex, d.birth_date, d.deceased, age_years(d.birth_date, {{AS_OF}}) AS age,
           dx.* EXCLUDE (person_id), px.* EXCLUDE (person_id), rx.* EXCLUDE (person_id), lab.* EXCLUDE (person_id),
           hf_hosp.* EXCLUDE (person_id)
    FROM demo d
    LEFT JOIN dx USING (person_id) LEFT JOIN px USING (person_id) LEFT JOIN rx USING (person_id)
    LEFT JOIN lab USING (person_id) LEFT JOIN hf_hosp USING (person_id)
), e AS (
    SELECT *,
           -- measured eGFR in 90 days, else CKD-EPI 2021 (race-free) from the latest creatinine, age at that result
           coalesce(egfr, CASE WHEN creat_mgdl > 0 AND sex IS NOT NULL AND age_years(birth_date, creat_date) IS NOT NULL THEN
               142 * pow(least(creat_mgdl / CASE sex WHEN 'female' THEN 0.7 ELSE 0.9 END, 1.0),
                         CASE sex WHEN 'female' THEN -0.241 ELSE -0.302 END)
                   * pow(greatest(creat_mgdl / CASE sex WHEN 'female' THEN 0.7 ELSE 0.9 END, 1.0), -1.200)
                   * pow(0.9938, age_years(birth_date, creat_date))
                   * CASE sex WHEN 'female' THEN 1.012 ELSE 1.0 END END) AS egfr_any
    FROM f
)
SELECT person_id,
    NOT deceased                                                   AS sys_alive,
    age >= 18                                                      AS inc_0,
    coalesce(t2dm, 0) >= 1                                         AS inc_1,
    hba1c_pct >= 7.0 AND hba1c_pct <= 10.5                         AS inc_2,
    -- continuous for 90 days and the latest daily dose > 1500 mg (no exposure: false; dose not computable: null)
    coalesce(metformin_run_90, 0) >= 90
        AND CASE WHEN coalesce(metformin_90, 0) = 0 THEN false ELSE metformin_mg_day > 1500 END AS inc_3,
    CASE WHEN w_last - w_first >= 90 AND w_max > 0 THEN (w_max - w_min) / w_max * 100 <= 5 END AS inc_4,
    coalesce(bmi_measured, CASE WHEN weight_90 > 0 AND height_ever > 0
                                THEN weight_90 / pow(height_ever / 100.0, 2) END) >= 25 AS inc_5,
    coalesce(t1dm, 0) >= 1                                         AS exc_1,
    coalesce(pancreatitis, 0) >= 1                                 AS exc_2,
    coalesce(pdr, 0) >= 1                                          AS exc_3,
    coalesce(gastroparesis, 0) >= 1 OR coalesce(bariatric, 0) >= 1 AS exc_4,
    coalesce(liver, 0) >= 1 OR alt_uln > 3                         AS exc_5,
    egfr_any < 45                                                  AS exc_6,
    coalesce(cv_60, 0) >= 1 OR coalesce(hf_hosp_60, 0) >= 1        AS exc_7,
    coalesce(mtc_men2, 0) >= 1                                     AS exc_8,
    coalesce(other_dm_90, 0) >= 1                                  AS exc_9
FROM e;

-- ================================================================ outcomes, cohort, status
CREATE OR REPLACE TEMP MACRO incl(t) AS CASE WHEN t IS NULL THEN 'unknown' WHEN t THEN 'pass' ELSE 'fail' END;
CREATE OR REPLACE TEMP MACRO excl(t) AS CASE WHEN t IS NULL THEN 'unknown' WHEN t THEN 'fail' ELSE 'pass' END;
CREATE OR REPLACE TEMP MACRO review_pass(o) AS CASE WHEN o = 'pass' THEN 'review' ELSE o END;

CREATE OR REPLACE TEMP TABLE outcome AS
SELECT person_id, criterion, o FROM (
    SELECT person_id,
        incl(sys_alive)              AS sys_alive,
        incl(inc_0)                  AS inc_0,
        incl(inc_1)                  AS inc_1,
        incl(inc_2)                  AS inc_2,
        review_pass(incl(inc_3))     AS inc_3,
        incl(inc_4)                  AS inc_4,
        incl(inc_5)                  AS inc_5,
        excl(exc_1)                  AS exc_1,
        excl(exc_2)                  AS exc_2,
        review_pass(excl(exc_3))     AS exc_3,
        review_pass(excl(exc_4))     AS exc_4,
        review_pass(excl(exc_5))     AS exc_5,
        review_pass(excl(exc_6))     AS exc_6,
        excl(exc_7)                  AS exc_7,
        review_pass(excl(exc_8))     AS exc_8,
        review_pass(excl(exc_9))     AS exc_9,
        'review'                     AS exc_10
    FROM truth
) UNPIVOT (o FOR criterion IN (COLUMNS(* EXCLUDE (person_id))));

CREATE OR REPLACE TEMP TABLE cohort_criterion AS
SELECT 't2dm' AS cohort, unnest(l) AS criterion, generate_subscripts(l, 1) AS ord
FROM (SELECT ['sys_alive', 'inc_0', 'inc_1', 'inc_2', 'inc_3', 'inc_4', 'inc_5', 'exc_1', 'exc_2', 'exc_3', 'exc_4',
              'exc_5', 'exc_6', 'exc_7', 'exc_8', 'exc_9', 'exc_10'] AS l);

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
