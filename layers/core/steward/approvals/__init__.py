"""Approval gate: quality gate, approval requests, signed links, decisions, audit."""
