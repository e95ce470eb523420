"""Concepts the SURPASS-2 and DAPA-CKD planted patients use, for the extract's own `concept` table.

Ids, names, vocabularies and codes are from the verified concept list behind criteria/protocols/README.md
(ClinicalTrials.gov trials mapped with public sources; the same rows as shared/reference/concepts) and
schemas/vocabulary/extra_reference.csv. The NYHA answers have no verified OMOP id: they get LOCAL ids in
OMOP's 2-billion range with their real LOINC / SNOMED codes, and the criteria name them by code.
"""

from __future__ import annotations

NYHA_III = 2_000_000_011  # LOINC answer LA28406-9 (class III of 88020-3)
NYHA_IV = 2_000_000_012  # LOINC answer LA28407-7 (class IV of 88020-3)
NYHA_IV_SNOMED = 2_000_000_013  # SNOMED 422293003 New York Heart Association Classification - Class IV
HBA1C_IFCC = 40762352  # LOINC 59261-8, mmol/mol
METFORMIN_ER_500 = 40163924  # 24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet

# (concept_id, name, domain, vocabulary, class, standard, code)
METABOLIC_CONCEPTS: tuple[tuple[int, str, str, str, str, str, str], ...] = (
    (201254, "Type 1 diabetes mellitus", "Condition", "SNOMED", "Clinical Finding", "S", "46635009"),
    (199074, "Acute pancreatitis", "Condition", "SNOMED", "Clinical Finding", "S", "197456007"),
    (43530685, "Proliferative retinopathy due to type 2 diabetes mellitus", "Condition", "SNOMED",
     "Clinical Finding", "S", "1501000119109"),
    (37018728, "Gastroparesis due to type 2 diabetes mellitus", "Condition", "SNOMED", "Clinical Finding", "S",
     "713703005"),
    (4026131, "Non-alcoholic fatty liver", "Condition", "SNOMED", "Clinical Finding", "S", "197315008"),
    (381316, "Cerebrovascular accident", "Condition", "SNOMED", "Clinical Finding", "S", "230690007"),
    (24612, "Multiple endocrine neoplasia, type 2", "Condition", "SNOMED", "Clinical Finding", "S", "61808009"),
    (75650, "Proteinuria", "Condition", "SNOMED", "Clinical Finding", "S", "29738008"),
    (35623052, "Autosomal dominant polycystic kidney disease type 1 with tuberous sclerosis", "Condition",
     "SNOMED", "Clinical Finding", "S", "765331004"),
    (313223, "Granulomatosis with polyangiitis", "Condition", "SNOMED", "Clinical Finding", "S", "195353004"),
    (373503, "Transient cerebral ischemia", "Condition", "SNOMED", "Clinical Finding", "S", "266257000"),
    (315296, "Preinfarction syndrome", "Condition", "SNOMED", "Clinical Finding", "S", "4557003"),
    (2108974, "Laparoscopy, surgical, gastric restrictive procedure; with gastric bypass and Roux-en-Y "
     "gastroenterostomy (roux limb 150 cm or less)", "Procedure", "CPT4", "CPT4", "S", "43644"),
    (4322471, "Transplant of kidney", "Procedure", "SNOMED", "Procedure", "S", "70536003"),
    (1503297, "metformin", "Drug", "RxNorm", "Ingredient", "S", "6809"),
    (793143, "semaglutide", "Drug", "RxNorm", "Ingredient", "S", "1991302"),
    (44785829, "dapagliflozin", "Drug", "RxNorm", "Ingredient", "S", "1488564"),
    (19009384, "insulin isophane, human 70 UNT/ML / insulin, regular, human 30 UNT/ML Injectable Suspension "
     "[Humulin]", "Drug", "RxNorm", "Branded Drug", "S", "106892"),
    (3004410, "Hemoglobin A1c/Hemoglobin.total in Blood", "Measurement", "LOINC", "Lab Test", "S", "4548-4"),
    (3001802, "Microalbumin/Creatinine [Mass Ratio] in Urine", "Measurement", "LOINC", "Lab Test", "S",
     "14959-1"),
    (442310, "Acute heart failure", "Condition", "SNOMED", "Clinical Finding", "S", "56675007"),
    (4137127, "Transplantation of heart", "Procedure", "SNOMED", "Procedure", "S", "32413006"),
    (METFORMIN_ER_500, "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", "Drug", "RxNorm",
     "Quant Clinical Drug", "S", "860975"),
    (HBA1C_IFCC, "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", "Measurement", "LOINC", "Lab Test",
     "S", "59261-8"),
    (3036277, "Body height", "Measurement", "LOINC", "Clinical Observation", "S", "8302-2"),
    (3038553, "Body mass index (BMI) [Ratio]", "Measurement", "LOINC", "Clinical Observation", "S", "39156-5"),
    (3024171, "Respiratory rate", "Measurement", "LOINC", "Clinical Observation", "S", "9279-1"),
    (36305765, "Functional capacity NYHA", "Observation", "LOINC", "Clinical Observation", "S", "88020-3"),
    (NYHA_III, "Class III", "Meas Value", "LOINC", "Answer", "S", "LA28406-9"),
    (NYHA_IV, "Class IV", "Meas Value", "LOINC", "Answer", "S", "LA28407-7"),
    (NYHA_IV_SNOMED, "New York Heart Association Classification - Class IV", "Observation", "SNOMED",
     "Clinical Finding", "S", "422293003"),
)
