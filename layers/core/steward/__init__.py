"""Steward core: domain models, use cases, data access and observability shared by every function."""

__version__ = "0.1.0"
