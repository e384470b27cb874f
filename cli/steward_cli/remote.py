"""HTTP client of the Steward API: the local sandbox's, or a deployed stack's (SigV4-signed)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"HTTP {status}: {message}")


class StewardApi:
    """GETs against a Steward API base URL; signs with the caller's AWS credentials when `sign` is set."""

    def __init__(self, base_url: str, *, sign: bool = False, region: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.sign = sign
        self.region = region

    @classmethod
    def for_stack(cls, stack: str, region: str | None = None) -> StewardApi:
        """Read the ApiUrl output of a deployed stack (CloudFormation DescribeStacks)."""
        import boto3

        cfn = boto3.client("cloudformation", region_name=region)
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        if "ApiUrl" not in outputs:
            raise ApiError(404, f"stack {stack} has no ApiUrl output")
        return cls(outputs["ApiUrl"], sign=True, region=cfn.meta.region_name)

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self._send("GET", f"{self.base_url}{path}" + (f"?{query}" if query else ""), None)

    def post(self, path: str, body: dict[str, Any], **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        return self._send("POST", url, json.dumps(body).encode())

    def get_text(self, path: str, accept: str, **params: Any) -> str:
        """A non-JSON answer (the audit report's HTML) as text."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return str(self._send("GET", f"{self.base_url}{path}" + (f"?{query}" if query else ""), None, accept))

    def _send(self, method: str, url: str, data: bytes | None, accept: str = "application/json") -> Any:
        headers = {"Accept": accept}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.sign:
            headers.update(self._sigv4(url, method, data, accept))
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (checked below)
        if not url.startswith(("http://", "https://")):
            raise ApiError(400, f"not an http(s) URL: {url}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                body = response.read()
                if accept != "application/json":
                    return body.decode("utf-8")
                return json.loads(body or b"null")
        except urllib.error.HTTPError as exc:
            return self._http_error(exc)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise ApiError(503, f"cannot reach {self.base_url}: {getattr(exc, 'reason', exc)}") from None

    @staticmethod
    def _http_error(exc: urllib.error.HTTPError) -> Any:
        body = exc.read().decode(errors="replace")
        try:
            message = json.loads(body).get("message", body)
        except (ValueError, AttributeError):
            message = body
        raise ApiError(exc.code, str(message)[:500]) from None

    def _sigv4(
        self, url: str, method: str = "GET", data: bytes | None = None, accept: str = "application/json"
    ) -> dict[str, str]:
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = boto3.session.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise ApiError(401, "no AWS credentials to sign the request with")
        request = AWSRequest(method=method, url=url, data=data, headers={"Accept": accept})
        SigV4Auth(
            credentials.get_frozen_credentials(), "execute-api", self.region or session.region_name
        ).add_auth(request)
        return dict(request.headers.items())

    # --- the routes --------------------------------------------------------------------------------

    def lineage(self, node_id: str, direction: str, depth: int) -> dict[str, Any]:
        return self.get("/lineage", id=node_id, direction=direction, depth=depth)  # type: ignore[no-any-return]

    def notifications(self, since: str | None, failed: bool) -> dict[str, Any]:
        return self.get("/notifications", since=since, failed="true" if failed else None)  # type: ignore[no-any-return]

    def monitoring(self, endpoint: str, since: str | None) -> dict[str, Any]:
        name = urllib.parse.quote(endpoint, safe="")
        return self.get(f"/endpoints/{name}/monitoring", since=since, limit=500)  # type: ignore[no-any-return]

    def approvals(self) -> dict[str, Any]:
        return self.get("/approval-requests")  # type: ignore[no-any-return]

    def decide(self, request_id: str, decision: str, as_: str, comment: str) -> dict[str, Any]:
        path = f"/approval-requests/{urllib.parse.quote(request_id, safe='')}/decisions"
        return self.post(path, {"decision": decision, "as": as_, "comment": comment})  # type: ignore[no-any-return]

    def compare(self, a: str, b: str) -> dict[str, Any]:
        return self.get("/compare", a=a, b=b)  # type: ignore[no-any-return]

    def deployments(
        self, endpoint: str, account: str | None = None, region: str | None = None
    ) -> dict[str, Any]:
        """`account`/`region`: an endpoint of another account or region (a workload account's)."""
        name = urllib.parse.quote(endpoint, safe="")
        items: list[Any] = []
        token = None
        while True:
            page = self.get(
                f"/endpoints/{name}/deployments", limit=500, next=token, account=account, region=region
            )
            items += page["items"]
            token = page.get("next")
            if not token:
                return {"endpoint": page["endpoint"], "requests": page.get("requests", []), "items": items}

    def rollback(
        self,
        endpoint: str,
        to_version: int | None,
        reason: str,
        account: str | None = None,
        region: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"reason": reason}
        if to_version is not None:
            body["toVersion"] = to_version
        path = f"/endpoints/{urllib.parse.quote(endpoint, safe='')}/rollback"
        return self.post(path, body, account=account, region=region)  # type: ignore[no-any-return]

    def serving(
        self, endpoint: str, at: str, account: str | None = None, region: str | None = None
    ) -> dict[str, Any]:
        path = f"/endpoints/{urllib.parse.quote(endpoint, safe='')}/serving"
        return self.get(path, at=at, account=account, region=region)  # type: ignore[no-any-return]

    def report(
        self, package: str | None = None, group: str | None = None, version: int | None = None
    ) -> dict[str, Any]:
        """The audit report's data: of `package` (an ARN), or of `group` and `version` (the stack's)."""
        return dict(self.get("/report", package=package, group=group, version=version, format="json"))

    def report_html(
        self, package: str | None = None, group: str | None = None, version: int | None = None
    ) -> str:
        return self.get_text("/report", "text/html", package=package, group=group, version=version)

    def status(self, endpoint: str | None = None) -> dict[str, Any]:
        return self.get("/status", endpoint=endpoint)  # type: ignore[no-any-return]
