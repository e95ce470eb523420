"""Concepts the SURPASS-2 and DAPA-CKD planted patients use, for the extract's own `concept` table.

Ids, names, vocabularies and codes are from the verified concept list behind criteria/protocols/README.md
(ClinicalTrials.gov trials mapped with public sources; the same rows as shared/reference/concepts).
"""

from __future__ import annotations

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
)
