"""Monitoring reactions: Model Monitor executions and endpoint alarms become alerts recorded against the
version serving at the time, and optionally start a retraining pipeline (README "Monitoring reactions")."""
