"""The HTTP API's own plumbing (errors → statuses, the OpenAPI document); routes live in the features."""
