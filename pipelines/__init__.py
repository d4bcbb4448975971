"""Pure DataFrame -> DataFrame transforms that derive the request-logs, assessment-logs and
quarantine tables from a raw payload table, plus the run orchestration that calls the I/O layer
(:mod:`pipelines.io`)."""
