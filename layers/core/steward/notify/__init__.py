"""Notifications: one contract, rendered per channel, routed by policy, deduplicated, logged."""
