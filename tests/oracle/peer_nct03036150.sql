-- NCT03036150 (DAPA-CKD; cohort "ckd") written by hand in DuckDB SQL: the peer the Spark job's statuses are
-- compared with on generated data (tests/e2e/test_peer_duckdb.py). Inputs are prepared by peer_duckdb.py as for
-- peer_duckdb.sql (typed views, cs_item from criteria/nct03036150.yaml, units, lab_range); {{AS_OF}} is the
-- screening date. Nothing here calls the Spark code. Result: table peer_status.

-- @include peer_common.sql

-- ================================================================ labs (unit each is compared in; gate ranges)
CREATE OR REPLACE TEMP TABLE lab_def AS
SELECT lab, unit_key, canonical_unit, CAST(molar_mass AS DOUBLE) AS molar_mass,
       CAST(default_uln AS DOUBLE) AS default_uln, unitless_is, CAST(equation AS VARCHAR) AS equation
FROM (VALUES
    ('egfr_ckd_epi', 'mL/min/1.73m2', NULL,    NULL,   NULL, NULL, NULL),
    ('creatinine',   'mg/dL',         'mg/dL', 113.12, NULL, NULL, NULL),
    ('uacr',         'mg/g',          'mg/g',  113.12, NULL, NULL, NULL)
) AS t(lab, unit_key, canonical_unit, molar_mass, default_uln, unitless_is, equation);

-- @include peer_labs.sql

CREATE OR REPLACE TEMP TABLE lab AS
WITH w AS (SELECT *, {{AS_OF}} - d AS ago, {'d': d, 'id': measurement_id} AS k FROM lab_ok WHERE d <= {{AS_OF}})
SELECT person_id,
       arg_max(v_cmp, k) FILTER (lab = 'egfr_ckd_epi' AND ago < 90 AND v_cmp IS NOT NULL) AS egfr,
       arg_max(v_cmp, k) FILTER (lab = 'creatinine' AND ago < 90 AND v_cmp IS NOT NULL)   AS creat_mgdl,
       arg_max(d, k) FILTER (lab = 'creatinine' AND ago < 90 AND v_cmp IS NOT NULL)       AS creat_date,
       arg_max(v_cmp, k) FILTER (lab = 'uacr' AND ago < 90 AND v_cmp IS NOT NULL)         AS uacr_mgg,
       -- earlier evidence: the highest UACR 90 days to 10 years before as-of (none: no evidence)
       max(v_cmp) FILTER (lab = 'uacr' AND ago BETWEEN 90 AND 3650 AND v_cmp IS NOT NULL) AS uacr_prior_max
FROM w GROUP BY person_id;

-- NYHA class: the latest value concept (value_as_concept_id, 0 = none) of 88020-3 in 180 days; class IV when
-- that concept is a member of the nyha_class_iv set (LOINC answer or SNOMED finding, by code)
CREATE OR REPLACE TEMP TABLE nyha AS
WITH o AS (
    SELECT person_id, observation_id, observation_date AS d, value_as_concept_id AS vc
    FROM observation JOIN cs_member m ON m.concept_id = observation_concept_id AND m.set_name = 'nyha'
    WHERE NOT _bad AND person_id IS NOT NULL AND observation_date BETWEEN DATE '1900-01-01' AND {{AS_OF}}
      AND {{AS_OF}} - observation_date < 180 AND coalesce(value_as_concept_id, 0) <> 0
)
SELECT person_id, arg_max(vc, (d, observation_id)) IN (SELECT concept_id FROM cs_member WHERE set_name = 'nyha_class_iv')
       AS nyha_iv
FROM o GROUP BY person_id;

-- ================================================================ per person: every criterion's truth
CREATE OR REPLACE TEMP TABLE dx AS
SELECT person_id,
       count(*) FILTER (s = 'albuminuria_history' AND ago >= 90)                       AS albuminuria_90,
       count(*) FILTER (s IN ('polycystic_kidney', 'lupus_nephritis', 'anca_vasculitis')) AS renal_excluded,
       count(*) FILTER (s = 'transplant_status')                                       AS transplant_status,
       count(*) FILTER (s = 't1dm')                                                    AS t1dm,
       count(*) FILTER (s = 'heart_failure')                                           AS heart_failure,
       count(*) FILTER (s IN ('myocardial_infarction', 'unstable_angina', 'stroke', 'tia') AND ago < 84) AS cv_84
FROM dx_hit GROUP BY person_id;

CREATE OR REPLACE TEMP TABLE px AS
SELECT person_id, count(*) FILTER (s IN ('transplant_procedure', 'other_organ_transplant')) AS transplant_proc
FROM px_hit GROUP BY person_id;

-- inc_4 (ACE-I/ARB continuous for 28 days) is a mixed item with review_if [fail]: review whatever the coverage
-- (a drug rule is never unknown here: no recent_data default), so the peer needs no coverage for it.
CREATE OR REPLACE TEMP TABLE rx AS
SELECT person_id,
       count(*) FILTER (s = 'immunosuppressive_therapy' AND e_ago < 183)                     AS immuno_183,
       count(*) FILTER (s = 'sglt2_inhibitors' AND e_ago < 56)                               AS sglt2_56
FROM rx_hit GROUP BY person_id;

CREATE OR REPLACE TEMP TABLE truth AS
WITH f AS (
    SELECT d.person_id, d.sex, d.birth_date, d.deceased, age_years(d.birth_date, {{AS_OF}}) AS age,
           dx.* EXCLUDE (person_id), px.* EXCLUDE (person_id), rx.* EXCLUDE (person_id), lab.* EXCLUDE (person_id),
           nyha.* EXCLUDE (person_id)
    FROM demo d
    LEFT JOIN dx USING (person_id) LEFT JOIN px USING (person_id) LEFT JOIN rx USING (person_id)
    LEFT JOIN lab USING (person_id) LEFT JOIN nyha USING (person_id)
), e AS (
    SELECT *,
           -- a CKD-EPI eGFR result in 90 days, else CKD-EPI 2021 (race-free) from the latest creatinine
           coalesce(egfr, CASE WHEN creat_mgdl > 0 AND sex IS NOT NULL AND age_years(birth_date, creat_date) IS NOT NULL THEN
               142 * pow(least(creat_mgdl / CASE sex WHEN 'female' THEN 0.7 ELSE 0.9 END, 1.0),
                         CASE sex WHEN 'female' THEN -0.241 ELSE -0.302 END)
                   * pow(greatest(creat_mgdl / CASE sex WHEN 'female' THEN 0.7 ELSE 0.9 END, 1.0), -1.200)
                   * pow(0.9938, age_years(birth_date, creat_date))
                   * CASE sex WHEN 'female' THEN 1.012 ELSE 1.0 END END) AS egfr_any
    FROM f
)
SELECT person_id,
    NOT deceased                                                          AS sys_alive,
    age >= 18                                                             AS inc_1,
    egfr_any >= 25 AND egfr_any <= 75                                     AS inc_2,
    (uacr_mgg >= 200 AND uacr_mgg <= 5000)
        AND (coalesce(albuminuria_90, 0) >= 1 OR coalesce(uacr_prior_max >= 30, false)) AS inc_3,
    coalesce(renal_excluded, 0) >= 1                                      AS exc_1,
    coalesce(immuno_183, 0) >= 1                                          AS exc_2,
    coalesce(transplant_status, 0) >= 1 OR coalesce(transplant_proc, 0) >= 1 AS exc_3,
    coalesce(sglt2_56, 0) >= 1                                            AS exc_4,
    coalesce(t1dm, 0) >= 1                                                AS exc_5,
    coalesce(heart_failure, 0) >= 1 AND nyha_iv                           AS exc_6,
    coalesce(cv_84, 0) >= 1                                               AS exc_7
FROM e;

-- ================================================================ outcomes, cohort, status
CREATE OR REPLACE TEMP MACRO incl(t) AS CASE WHEN t IS NULL THEN 'unknown' WHEN t THEN 'pass' ELSE 'fail' END;
CREATE OR REPLACE TEMP MACRO excl(t) AS CASE WHEN t IS NULL THEN 'unknown' WHEN t THEN 'fail' ELSE 'pass' END;
CREATE OR REPLACE TEMP MACRO review_pass(o) AS CASE WHEN o = 'pass' THEN 'review' ELSE o END;
CREATE OR REPLACE TEMP MACRO review_fail(o) AS CASE WHEN o = 'fail' THEN 'review' ELSE o END;

CREATE OR REPLACE TEMP TABLE outcome AS
SELECT person_id, criterion, o FROM (
    SELECT person_id,
        incl(sys_alive)                        AS sys_alive,
        'review'                               AS inc_0,
        incl(inc_1)                            AS inc_1,
        incl(inc_2)                            AS inc_2,
        incl(inc_3)                            AS inc_3,
        'review'                               AS inc_4,
        review_pass(excl(exc_1))               AS exc_1,
        review_fail(excl(exc_2))               AS exc_2,
        review_pass(excl(exc_3))               AS exc_3,
        review_pass(excl(exc_4))               AS exc_4,
        excl(exc_5)                            AS exc_5,
        excl(exc_6)                            AS exc_6,
        excl(exc_7)                            AS exc_7
    FROM truth
) UNPIVOT (o FOR criterion IN (COLUMNS(* EXCLUDE (person_id))));

CREATE OR REPLACE TEMP TABLE cohort_criterion AS
SELECT 'ckd' AS cohort, unnest(l) AS criterion, generate_subscripts(l, 1) AS ord
FROM (SELECT ['sys_alive', 'inc_0', 'inc_1', 'inc_2', 'inc_3', 'inc_4', 'exc_1', 'exc_2', 'exc_3', 'exc_4', 'exc_5',
              'exc_6', 'exc_7'] AS l);

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
