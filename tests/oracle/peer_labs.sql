-- Lab rows of the peers of NCT03987919 and NCT03036150, given the trial's `lab_def` (lab, unit_key compared in,
-- canonical_unit of its plausibility range, molar_mass, default_uln, unitless_is): unit recognition and conversion,
-- positivity, and the quality gate's lab quarantine (never evidence). Same semantics as peer_duckdb.sql.

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

