"""`GET /status` and `steward status`: every endpoint Steward has recorded, in one call."""
