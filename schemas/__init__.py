"""Explicit schemas: OMOP CDM tables, criteria files, feature tables and outputs."""
