"""Tests on hand-built rows that need the session-scoped `spark` fixture, by module of jobs/."""
