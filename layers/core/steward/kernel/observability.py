"""Powertools Logger, Tracer and Metrics, configured from POWERTOOLS_* variables (template Globals).

The tracer patches botocore (AWS calls) and http.client (Slack, webhooks) for X-Ray once boto3 is
first imported, not when a handler module is: importing botocore only to patch it would double a
function's cold start, and clients are made lazily, on the first call that needs one (every path that
sends HTTP has read a secret or a parameter through boto3 first). The outcome is what Powertools'
auto-patching gives in Lambda, where these are the patchable modules present.
"""

from __future__ import annotations

from typing import Any

import wrapt
from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer(auto_patch=False)
metrics = Metrics()


def _patch(_boto3: Any) -> None:
    tracer.patch(["botocore", "httplib"])  # a no-op where tracing is disabled (tests, the sandbox)


wrapt.register_post_import_hook(_patch, "boto3")  # runs now if boto3 is already imported
