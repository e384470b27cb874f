"""The audit report of one model version: its evidence gathered (service) and rendered (html)."""
