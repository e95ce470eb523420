"""Test helpers: hand-built OMOP extracts, the standalone cluster, stage runners, reliability helpers."""
