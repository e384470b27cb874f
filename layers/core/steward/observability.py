"""Powertools Logger, Tracer and Metrics, configured from POWERTOOLS_* variables (template Globals)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
