"""JSON reports in S3 that gates and monitoring read (evaluation, Clarify, Model Monitor's violations):
at most MAX_REPORT_BYTES of each, a missing or unreadable object a NotFoundError."""

from __future__ import annotations

import json
from typing import Any

from steward.kernel.aws.clients import client, error_code
from steward.kernel.errors import NotFoundError

MAX_REPORT_BYTES = 5 * 1024 * 1024


class S3Reports:
    def read_json(self, s3_uri: str) -> Any:
        bucket, _, key = s3_uri[len("s3://") :].partition("/")
        try:
            response = client("s3").get_object(
                Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_REPORT_BYTES - 1}"
            )
        except Exception as exc:
            code = error_code(exc)
            if code in ("NoSuchKey", "NoSuchBucket", "AccessDenied", "404", "403"):
                raise NotFoundError(f"report {code}") from exc
            raise
        try:
            return json.loads(response["Body"].read())
        except ValueError:
            raise ValueError("report is not JSON") from None
