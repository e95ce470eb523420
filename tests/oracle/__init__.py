"""The DuckDB peer: NCT06557265 written independently in SQL, the differential oracle of the job."""
