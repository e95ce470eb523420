"""Concepts the synthetic extract uses, with their names, so the extract ships its own `concept` table.

Names, vocabularies and codes come from shared/reference/concepts/trial_concepts.csv (the verified trial
concepts) and from the Synthea27Nj vocabulary shard (the Synthea-like noise: visits, social history, common
conditions and drugs). A handful of OMOP housekeeping concepts (type concept, race, measurement values, CDM
version) are written from the OMOP vocabulary conventions; they are marked below. Lab analytes the criteria
name only by LOINC code get LOCAL ids in OMOP's 2-billion range, so the engine resolves them through this
table.
"""

from __future__ import annotations

import pyarrow as pa

from jobs.synthetic.vocab_metabolic import HBA1C_IFCC, METABOLIC_CONCEPTS, METFORMIN_ER_500, NYHA_III, NYHA_IV

__all__ = ["HBA1C_IFCC", "METFORMIN_ER_500", "NYHA_III", "NYHA_IV"]

# -------------------------------------------------------------- local concepts (LOINC code, no verified id)
ANA_TITER = 2_000_000_001  # LOINC 5048-4
ANTI_DSDNA = 2_000_000_002  # LOINC 5130-0
ANTI_PLA2R = 2_000_000_003  # LOINC 73737-9
QTC = 2_000_000_004  # LOINC 8636-3

# -------------------------------------------------------------- housekeeping ids
NO_MATCH = 0
EHR = 32817  # Type Concept "EHR": used for every *_type_concept_id
CDM_54 = 756265  # cdm_version_concept_id as Synthea27Nj's cdm_source shows it
POSITIVE, NEGATIVE, PRESENT, POSITIVE_LOINC = 9191, 9189, 4181412, 45884084
MALE, FEMALE = 8507, 8532

# (concept_id, name, domain, vocabulary, class, standard, code)
Row = tuple[int, str, str, str, str, str, str]

CONCEPTS: tuple[Row, ...] = (
    # ---------------------------------------------------------- trial conditions
    (257628, "Systemic lupus erythematosus", "Condition", "SNOMED", "Clinical Finding", "S", "55464009"),
    (255891, "Lupus erythematosus", "Condition", "SNOMED", "Clinical Finding", "S", "200936003"),
    (
        4297164,
        "SLE glomerulonephritis syndrome, WHO class III",
        "Condition",
        "SNOMED",
        "Clinical Finding",
        "",
        "76521009",
    ),
    (
        4267801,
        "SLE glomerulonephritis syndrome, WHO class IV",
        "Condition",
        "SNOMED",
        "Clinical Finding",
        "",
        "36402006",
    ),
    (
        4178133,
        "SLE glomerulonephritis syndrome, WHO class V",
        "Condition",
        "SNOMED",
        "Clinical Finding",
        "",
        "52042003",
    ),
    (4285717, "SLE glomerulonephritis syndrome", "Condition", "SNOMED", "Clinical Finding", "S", "68815009"),
    (252365, "Membranous glomerulonephritis", "Condition", "SNOMED", "Clinical Finding", "", "77182004"),
    (
        36716199,
        "Idiopathic membranous glomerulonephritis",
        "Condition",
        "SNOMED",
        "Clinical Finding",
        "",
        "722119002",
    ),
    (
        36716200,
        "Drug-induced membranous nephropathy",
        "Condition",
        "SNOMED",
        "Clinical Finding",
        "",
        "722120008",
    ),
    (36716176, "Malignancy-associated membranous nephropathy", "Condition", "SNOMED", "Clinical Finding", "",
     "722086002"),
    (4308946, "Hepatic coma due to chronic hepatitis B", "Condition", "SNOMED", "Clinical Finding", "S", "424340000"),
    (4098292, "Antiphospholipid syndrome", "Condition", "SNOMED", "Clinical Finding", "S", "26843008"),
    (4329847, "Myocardial infarction", "Condition", "SNOMED", "Clinical Finding", "S", "22298006"),
    (316139, "Heart failure", "Condition", "SNOMED", "Clinical Finding", "S", "84114007"),
    (4229440, "Chronic congestive heart failure", "Condition", "SNOMED", "Clinical Finding", "S", "88805009"),
    (37311061, "COVID-19", "Condition", "SNOMED", "Clinical Finding", "S", "840539006"),
    (4217975, "Normal pregnancy", "Condition", "SNOMED", "Clinical Finding", "S", "72892002"),
    (4008859, "Prolonged QT interval", "Condition", "SNOMED", "Clinical Finding", "S", "111975006"),
    # ---------------------------------------------------------- Synthea-like conditions (noise)
    (40481087, "Viral sinusitis", "Condition", "SNOMED", "Clinical Finding", "S", "444814009"),
    (4112343, "Acute viral pharyngitis", "Condition", "SNOMED", "Clinical Finding", "S", "195662009"),
    (260139, "Acute bronchitis", "Condition", "SNOMED", "Clinical Finding", "S", "10509002"),
    (4251306, "Stress", "Condition", "SNOMED", "Clinical Finding", "S", "73595000"),
    (320128, "Essential hypertension", "Condition", "SNOMED", "Clinical Finding", "S", "59621000"),
    (201826, "Type 2 diabetes mellitus", "Condition", "SNOMED", "Clinical Finding", "S", "44054006"),
    (432867, "Hyperlipidemia", "Condition", "SNOMED", "Clinical Finding", "S", "55822004"),
    (372328, "Otitis media", "Condition", "SNOMED", "Clinical Finding", "S", "65363002"),
    (4132891, "Chronic low back pain", "Condition", "SNOMED", "Clinical Finding", "S", "278860009"),
    (439777, "Anemia", "Condition", "SNOMED", "Clinical Finding", "S", "271737000"),
    (317009, "Asthma", "Condition", "SNOMED", "Clinical Finding", "S", "195967001"),
    (4051466, "Childhood asthma", "Condition", "SNOMED", "Clinical Finding", "S", "233678006"),
    (443614, "Chronic kidney disease stage 1", "Condition", "SNOMED", "Clinical Finding", "S", "431855005"),
    (443601, "Chronic kidney disease stage 2", "Condition", "SNOMED", "Clinical Finding", "S", "431856006"),
    (443597, "Chronic kidney disease stage 3", "Condition", "SNOMED", "Clinical Finding", "S", "433144002"),
    (317576, "Coronary arteriosclerosis", "Condition", "SNOMED", "Clinical Finding", "S", "53741008"),
    (255573, "Chronic obstructive lung disease", "Condition", "SNOMED", "Clinical Finding", "S", "13645005"),
    (443392, "Malignant neoplastic disease", "Condition", "SNOMED", "Clinical Finding", "S", "363346000"),
    (4064161, "Cirrhosis of liver", "Condition", "SNOMED", "Clinical Finding", "S", "19943007"),
    (193782, "End-stage renal disease", "Condition", "SNOMED", "Clinical Finding", "S", "46177005"),
    # ---------------------------------------------------------- observations (Synthea social history)
    (43054909, "Tobacco smoking status", "Observation", "LOINC", "Clinical Observation", "S", "72166-2"),
    (42869557, "Housing status", "Observation", "LOINC", "Survey", "S", "71802-3"),
    (40770471, "Employment status - current", "Observation", "LOINC", "Clinical Observation", "S", "67875-5"),
    (37020116, "Stress level", "Observation", "LOINC", "Clinical Observation", "S", "93038-8"),
    (40758030, "Preferred language", "Observation", "LOINC", "Clinical Observation", "S", "54899-0"),
    (46235654, "Primary insurance", "Observation", "LOINC", "Clinical Observation", "S", "76437-3"),
    (4053118, "Full-time employment", "Observation", "SNOMED", "Clinical Finding", "S", "160903007"),
    # ---------------------------------------------------------- procedures
    (
        46272459,
        "Assessment of health and social care needs",
        "Procedure",
        "SNOMED",
        "Procedure",
        "S",
        "710824005",
    ),
    (762506, "Assessment of substance use", "Procedure", "SNOMED", "Procedure", "S", "428211000124100"),
    (4326177, "Medication Reconciliation", "Procedure", "SNOMED", "Procedure", "S", "430193006"),
    (4107731, "Subcutaneous immunotherapy", "Procedure", "SNOMED", "Procedure", "S", "180256009"),
    (46272472, "Assessment of anxiety", "Procedure", "SNOMED", "Procedure", "S", "710841007"),
    (4295880, "Intramuscular injection", "Procedure", "SNOMED", "Procedure", "S", "76601001"),
    (4240345, "Physical examination", "Procedure", "SNOMED", "Procedure", "S", "5880005"),
    (4163872, "Plain chest X-ray", "Procedure", "SNOMED", "Procedure", "S", "399208008"),
    (4230911, "Echocardiography", "Procedure", "SNOMED", "Procedure", "S", "40701008"),
    (4249893, "Colonoscopy", "Procedure", "SNOMED", "Procedure", "S", "73761001"),
    (4146536, "Renal dialysis", "Procedure", "SNOMED", "Procedure", "S", "265764009"),
    (4336464, "Coronary artery bypass graft", "Procedure", "SNOMED", "Procedure", "S", "232717009"),
    (4217034, "Kidney biopsy", "Procedure", "SNOMED", "Procedure", "S", "7246002"),
    (2109566, "Renal biopsy; percutaneous, by trocar or needle", "Procedure", "CPT4", "CPT4", "", "50200"),
    # ---------------------------------------------------------- drug ingredients
    (1308216, "lisinopril", "Drug", "RxNorm", "Ingredient", "S", "29046"),
    (1341927, "enalapril", "Drug", "RxNorm", "Ingredient", "S", "3827"),
    (1334456, "ramipril", "Drug", "RxNorm", "Ingredient", "S", "35296"),
    (1367500, "Losartan", "Drug", "RxNorm", "Ingredient", "S", "52175"),
    (1308842, "valsartan", "Drug", "RxNorm", "Ingredient", "S", "69749"),
    (19003999, "mycophenolate mofetil", "Drug", "RxNorm", "Ingredient", "S", "68149"),
    (19012565, "mycophenolic acid", "Drug", "RxNorm", "Ingredient", "S", "7145"),
    (1310317, "cyclophosphamide", "Drug", "RxNorm", "Ingredient", "S", "3002"),
    (19014878, "azathioprine", "Drug", "RxNorm", "Ingredient", "S", "1256"),
    (950637, "tacrolimus", "Drug", "RxNorm", "Ingredient", "S", "42316"),
    (19010482, "cyclosporine", "Drug", "RxNorm", "Ingredient", "S", "3008"),
    (1314273, "rituximab", "Drug", "RxNorm", "Ingredient", "S", "121191"),
    (40236987, "belimumab", "Drug", "RxNorm", "Ingredient", "S", "1092437"),
    (44507676, "obinutuzumab", "Drug", "RxNorm", "Ingredient", "S", "974779"),
    # ------------------------------------------------- clinical drug products (as Synthea records them)
    (19080128, "lisinopril 10 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "314076"),
    (19080129, "lisinopril 20 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "314077"),
    (40185280, "losartan potassium 25 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "979485"),
    (40185304, "losartan potassium 50 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "979492"),
    (
        19010522,
        "cyclosporine, modified 100 MG Oral Capsule",
        "Drug",
        "RxNorm",
        "Clinical Drug",
        "S",
        "241834",
    ),
    (19010292, "1 ML Tacrolimus 5 MG/ML Injection [Prograf]", "Drug", "RxNorm", "Branded Drug", "", "108515"),
    (35606514, "cyclophosphamide 1000 MG Injection", "Drug", "RxNorm", "Clinical Drug", "S", "1734919"),
    (1551170, "prednisone 20 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "312615"),
    (19078106, "hydrochlorothiazide 25 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "310798"),
    (19073094, "amlodipine 2.5 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "308136"),
    (1539463, "simvastatin 10 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "314231"),
    (1127433, "acetaminophen 325 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "313782"),
    (
        1511248,
        "NDA020503 200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
        "Drug",
        "RxNorm",
        "Clinical Drug",
        "S",
        "2123111",
    ),
    # ---------------------------------------------------------- measurements
    (3001582, "Protein/Creatinine [Mass Ratio] in Urine", "Measurement", "LOINC", "Lab Test", "", "2890-2"),
    (3020876, "Protein [Mass/time] in 24 hour Urine", "Measurement", "LOINC", "Lab Test", "", "2889-4"),
    (
        1619025,
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by "
        "Creatinine-based formula (CKD-EPI 2021)",
        "Measurement",
        "LOINC",
        "Lab Test",
        "",
        "98979-8",
    ),
    (
        3030354,
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by "
        "Creatinine-based formula (MDRD)",
        "Measurement",
        "LOINC",
        "Lab Test",
        "",
        "33914-3",
    ),
    (
        3016723,
        "Creatinine [Mass/volume] in Serum or Plasma",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "2160-0",
    ),
    (3051825, "Creatinine [Mass/volume] in Blood", "Measurement", "LOINC", "Lab Test", "S", "38483-4"),
    (
        3000905,
        "Leukocytes [#/volume] in Blood by Automated count",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "6690-2",
    ),
    (3000963, "Hemoglobin [Mass/volume] in Blood", "Measurement", "LOINC", "Lab Test", "S", "718-7"),
    (
        3013650,
        "Neutrophils [#/volume] in Blood by Automated count",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "751-8",
    ),
    (
        3024929,
        "Platelets [#/volume] in Blood by Automated count",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "777-3",
    ),
    (
        3013721,
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "1920-8",
    ),
    (
        3006923,
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "1742-6",
    ),
    (
        3024128,
        "Bilirubin.total [Mass/volume] in Serum or Plasma",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "1975-2",
    ),
    (3004249, "Systolic blood pressure", "Measurement", "LOINC", "Clinical Observation", "S", "8480-6"),
    (3012888, "Diastolic blood pressure", "Measurement", "LOINC", "Clinical Observation", "S", "8462-4"),
    (
        40762499,
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        "Measurement",
        "LOINC",
        "Clinical Observation",
        "S",
        "59408-5",
    ),
    (3016502, "Oxygen saturation in Arterial blood", "Measurement", "LOINC", "Lab Test", "S", "2708-6"),
    (3027018, "Heart rate", "Measurement", "LOINC", "Clinical Observation", "S", "8867-4"),
    (3025315, "Body weight", "Measurement", "LOINC", "Clinical Observation", "S", "29463-7"),
    (3000483, "Glucose [Mass/volume] in Blood", "Measurement", "LOINC", "Lab Test", "S", "2339-0"),
    (3000285, "Sodium [Moles/volume] in Blood", "Measurement", "LOINC", "Lab Test", "S", "2947-0"),
    (3005456, "Potassium [Moles/volume] in Blood", "Measurement", "LOINC", "Lab Test", "S", "6298-4"),
    (
        ANA_TITER,
        "Nuclear Ab [Titer] in Serum by Immunofluorescence",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "5048-4",
    ),
    (
        ANTI_DSDNA,
        "DNA double strand Ab [Units/volume] in Serum",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "5130-0",
    ),
    (
        ANTI_PLA2R,
        "Phospholipase A2 receptor Ab [Units/volume] in Serum",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "73737-9",
    ),
    (QTC, "Q-T interval corrected", "Measurement", "LOINC", "Clinical Observation", "S", "8636-3"),
    # ---------------------------------------------------------- units (UCUM)
    (9510, "gram per gram", "Unit", "UCUM", "Unit", "S", "g/g"),
    (8723, "milligram per gram", "Unit", "UCUM", "Unit", "S", "mg/g"),
    (9565, "milligram per milligram", "Unit", "UCUM", "Unit", "S", "mg/mg"),
    (44777612, "milligram per millimole", "Unit", "UCUM", "Unit", "S", "mg/mmol"),
    (8807, "gram per 24 hours", "Unit", "UCUM", "Unit", "S", "g/(24.h)"),
    (
        720870,
        "milliliter per minute per 1.73 square meter",
        "Unit",
        "UCUM",
        "Unit",
        "S",
        "mL/min/(173.10*-2.m2)",
    ),
    (8848, "thousand per microliter", "Unit", "UCUM", "Unit", "S", "10*3/uL"),
    (9444, "billion per liter", "Unit", "UCUM", "Unit", "S", "10*9/L"),
    (8713, "gram per deciliter", "Unit", "UCUM", "Unit", "S", "g/dL"),
    (8636, "gram per liter", "Unit", "UCUM", "Unit", "S", "g/L"),
    (8645, "unit per liter", "Unit", "UCUM", "Unit", "S", "[U]/L"),
    (8840, "milligram per deciliter", "Unit", "UCUM", "Unit", "S", "mg/dL"),
    (8749, "micromole per liter", "Unit", "UCUM", "Unit", "S", "umol/L"),
    (9593, "millisecond", "Unit", "UCUM", "Unit", "S", "ms"),
    (8876, "millimeter mercury column", "Unit", "UCUM", "Unit", "S", "mm[Hg]"),
    (8554, "percent", "Unit", "UCUM", "Unit", "S", "%"),
    (8525, "titer", "Unit", "UCUM", "Unit", "S", "{titer}"),
    (8541, "per minute", "Unit", "UCUM", "Unit", "S", "/min"),
    (9529, "kilogram", "Unit", "UCUM", "Unit", "S", "kg"),
    (8753, "millimole per liter", "Unit", "UCUM", "Unit", "S", "mmol/L"),
    (8582, "centimeter", "Unit", "UCUM", "Unit", "S", "cm"),
    (9531, "kilogram per square meter", "Unit", "UCUM", "Unit", "S", "kg/m2"),
    (8739, "pound (US)", "Unit", "UCUM", "Unit", "S", "[lb_us]"),
    (9225, "percent hemoglobin A1c", "Unit", "UCUM", "Unit", "S", "%{HbA1c}"),
    (9579, "millimole per mole", "Unit", "UCUM", "Unit", "S", "mmol/mol"),
    # ---------------------------------------------------------- demographics, visits
    (MALE, "MALE", "Gender", "Gender", "Gender", "S", "M"),
    (FEMALE, "FEMALE", "Gender", "Gender", "Gender", "S", "F"),
    (38003563, "Hispanic or Latino", "Ethnicity", "Ethnicity", "Ethnicity", "S", "Hispanic"),
    (38003564, "Not Hispanic or Latino", "Ethnicity", "Ethnicity", "Ethnicity", "S", "Not Hispanic"),
    (9201, "Inpatient Visit", "Visit", "Visit", "Visit", "S", "IP"),
    (262, "Emergency Room and Inpatient Visit", "Visit", "Visit", "Visit", "S", "ERIP"),  # PhenotypeLibrary 1021
    (9202, "Outpatient Visit", "Visit", "Visit", "Visit", "S", "OP"),
    (9203, "Emergency Room Visit", "Visit", "Visit", "Visit", "S", "ER"),
    # ------------------------------------------------- housekeeping, from OMOP conventions (not verified)
    (NO_MATCH, "No matching concept", "Metadata", "None", "Undefined", "", "No matching concept"),
    (EHR, "EHR", "Type Concept", "Type Concept", "Type Concept", "S", "OMOP4976890"),
    (CDM_54, "OMOP CDM Version 5.4.0", "Metadata", "CDM", "CDM", "S", "CDM v5.4.0"),
    (8527, "White", "Race", "Race", "Race", "S", "5"),
    (8516, "Black or African American", "Race", "Race", "Race", "S", "3"),
    (8515, "Asian", "Race", "Race", "Race", "S", "2"),
    (POSITIVE, "Positive", "Meas Value", "SNOMED", "Qualifier Value", "S", "10828004"),
    (NEGATIVE, "Negative", "Meas Value", "SNOMED", "Qualifier Value", "S", "260385009"),
    (PRESENT, "Present", "Meas Value", "SNOMED", "Qualifier Value", "S", "52101004"),
    (POSITIVE_LOINC, "Positive", "Meas Value", "LOINC", "Answer", "S", "LA6576-8"),
)

CONCEPTS = CONCEPTS + METABOLIC_CONCEPTS  # the SURPASS-2 and DAPA-CKD planted patients
BY_ID: dict[int, Row] = {r[0]: r for r in CONCEPTS}


def code_of(concept_id: int) -> str:
    """The source code an ETL would have kept in *_source_value."""
    return BY_ID[concept_id][6]


def concept_table(schema: pa.Schema) -> pa.Table:
    """The extract's `concept` table: every concept the generator can emit, sorted by id."""
    rows = sorted(CONCEPTS)
    start, end = _days("1970-01-01"), _days("2099-12-31")
    cols = {
        "concept_id": pa.array([r[0] for r in rows], pa.int64()),
        "concept_name": pa.array([r[1] for r in rows]),
        "domain_id": pa.array([r[2] for r in rows]),
        "vocabulary_id": pa.array([r[3] for r in rows]),
        "concept_class_id": pa.array([r[4] for r in rows]),
        "standard_concept": pa.array([r[5] or None for r in rows], pa.string()),
        "concept_code": pa.array([r[6] for r in rows]),
        "valid_start_date": pa.array([start] * len(rows), pa.int32()).cast(pa.date32()),
        "valid_end_date": pa.array([end] * len(rows), pa.int32()).cast(pa.date32()),
        "invalid_reason": pa.nulls(len(rows), pa.string()),
    }
    return pa.table([cols[f.name].cast(f.type) for f in schema], schema=schema)


def _days(iso: str) -> int:
    import datetime as dt

    return (dt.date.fromisoformat(iso) - dt.date(1970, 1, 1)).days
