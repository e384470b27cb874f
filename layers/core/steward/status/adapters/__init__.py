"""The status slice's AWS access: the estate read from the lineage table and the DLQs."""
