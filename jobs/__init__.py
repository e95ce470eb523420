"""cohort-finder: Spark jobs that screen an OMOP CDM extract against trial criteria kept as data."""

__version__ = "0.1.0"
