-- Lab rows of the peers of NCT03987919 and NCT03036150, given the trial's `lab_def` (lab, unit_key compared in,
-- canonical_unit of its plausibility range, molar_mass, default_uln, unitless_is, equation): unit recognition and conversion,
-- positivity, and the quality gate's lab quarantine (never evidence). Same semantics as peer_duckdb.sql.

-- factor to a unit's dimension base; molar units become mass units by the analyte's molar mass
CREATE OR REPLACE TEMP MACRO unit_base(factor, molar, mm) AS
    CASE WHEN molar = 1 THEN factor * coalesce(mm, 1.0::DOUBLE) WHEN molar = -1 THEN 1.0::DOUBLE / coalesce(mm, 1.0::DOUBLE)
         ELSE factor END;

-- value in a target unit = value x factor + offset, per lab and result unit (no row = not convertible): within a
-- dimension a factor; across dimensions only by an equation the lab declares (lab_def.equation; HbA1c: NGSP % =
-- 0.09148 x IFCC mmol/mol + 2.152), from any unit of the equation's source dimension into any unit of its target
-- dimension (mass forms only, which is all an equation joins)
CREATE OR REPLACE TEMP TABLE lab_factor AS
WITH targets AS (
    SELECT l.*, t.target, t.unit
    FROM lab_def l
    CROSS JOIN LATERAL (SELECT 'compare' AS target, l.unit_key AS unit UNION ALL SELECT 'canonical', l.canonical_unit) t
), linear AS (
    SELECT l.lab, l.target, f.unit_key AS from_unit,
           unit_base(f.factor, f.molar, l.molar_mass) / unit_base(u.factor, u.molar, l.molar_mass) AS factor,
           0.0::DOUBLE AS "offset"
    FROM targets l
    JOIN unit_def u ON u.unit_key = l.unit
    JOIN unit_def f ON f.dimension = u.dimension
    WHERE f.unit_key = u.unit_key OR l.molar_mass IS NOT NULL OR (f.molar = 0 AND u.molar = 0)
), affine AS (
    SELECT l.lab, l.target, f.unit_key AS from_unit,
           (f.factor / es.factor) * e.scale * (et.factor / u.factor) AS factor,
           e."offset" * (et.factor / u.factor) AS "offset"
    FROM targets l
    JOIN unit_equation e ON e.name = l.equation
    JOIN unit_def es ON es.unit_key = e.source
    JOIN unit_def et ON et.unit_key = e.target
    JOIN unit_def u ON u.unit_key = l.unit AND u.dimension = et.dimension
    JOIN unit_def f ON f.dimension = es.dimension AND f.molar = 0 AND es.molar = 0
)
SELECT * FROM linear UNION ALL SELECT * FROM affine;

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
       r.v * fc.factor + fc."offset" AS v_cmp,           -- in the criterion's unit
       r.v * fk.factor + fk."offset" AS v_canonical,     -- in the plausibility range's unit
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

