"""Backfill: lineage of what existed before Steward (README "Backfill").

`walk.backfill` walks SageMaker's List/Describe APIs and records each resource's current state as the
synthetic event SageMaker would have sent (`events`), through record_lineage's own path; the
checkpoint (`adapters/backfill_store.py`) lets a run go on past one invocation.
"""
