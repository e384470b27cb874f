"""The endpoint lifecycle moto lacks: UpdateEndpoint, and CreateEndpoint/UpdateEndpoint going through
Creating/Updating with the events SageMaker sends, ending per the outcome a test asked for."""

from __future__ import annotations

from typing import Any


def update_endpoint_at_once(response: Any) -> Any:
    """UpdateEndpoint without the lifecycle (no emulation running): the endpoint moves at once."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    endpoint, config = endpoint_and_config(response)
    _apply_config(endpoint, response._get_param("EndpointConfigName"), config)
    endpoint.last_modified_time = utcnow()
    endpoint.endpoint_status = "InService"
    return ActionResult({"EndpointArn": endpoint.arn})


def endpoint_and_config(response: Any) -> tuple[Any, dict[str, Any]]:
    from moto.sagemaker.exceptions import ValidationError

    backend = response.sagemaker_backend
    name = response._get_param("EndpointName")
    config_name = response._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(message=f"Could not find endpoint '{name}'.")
    if endpoint.endpoint_status not in ("InService", "Failed"):
        raise ValidationError(message=f"Cannot update in-progress endpoint '{endpoint.arn}'.")
    try:
        config = backend.describe_endpoint_config(config_name)
    except Exception:
        raise ValidationError(message=f"Could not find endpoint configuration '{config_name}'.") from None
    return endpoint, config


def create_endpoint_once(create: Any) -> Any:
    """CreateEndpoint refusing a name that exists, as SageMaker does (moto replaces the endpoint)."""

    def create_endpoint(response: Any) -> Any:
        from moto.sagemaker.exceptions import ValidationError

        existing = response.sagemaker_backend.endpoints.get(response._get_param("EndpointName"))
        if existing is not None:
            raise ValidationError(message=f'Cannot create already existing endpoint "{existing.arn}".')
        return create(response)

    return create_endpoint


def _apply_config(endpoint: Any, config_name: str, config: dict[str, Any]) -> None:
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
    endpoint.data_capture_config = config.get("DataCaptureConfig")


OUTCOMES = ("succeed", "fail", "rollback", "silent-rollback", "hold")


class EndpointLifecycle:
    """Creating/Updating → InService | Failed | rolled back, with the events SageMaker would send."""

    def __init__(self, emit: Any, later: Any) -> None:
        self.emit, self.later = emit, later
        # Keyed by (account, endpoint name): the same name may exist in several accounts; an outcome asked
        # for any account is under (None, name).
        self.outcomes: dict[tuple[str | None, str], list[str]] = {}
        self.held: dict[tuple[str, str], Any] = {}
        self._clock = 0.0

    def _tick(self) -> tuple[str, int]:
        import time
        from datetime import UTC, datetime

        self._clock = max(time.time(), self._clock + 0.001)
        when = datetime.fromtimestamp(self._clock, UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z", int(
            self._clock * 1000
        )

    def ask(self, name: str, outcome: str, account: str | None = None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome {outcome!r}: one of {', '.join(OUTCOMES)}")
        self.outcomes.setdefault((account, name), []).append(outcome)

    def _event(
        self,
        endpoint: Any,
        status: str,
        detail_type: str = "SageMaker Endpoint State Change",
        pending: str | None = None,
        steps: list[str] | None = None,
        reason: str | None = None,
    ) -> None:
        when, millis = self._tick()
        detail: dict[str, Any] = {
            "EndpointName": endpoint.endpoint_name,
            "EndpointArn": endpoint.arn,
            "EndpointConfigName": endpoint.endpoint_config_name,
            "ProductionVariants": endpoint.production_variants,
            "EndpointStatus": status,
            "CreationTime": int(endpoint.creation_time.timestamp() * 1000)
            if hasattr(endpoint.creation_time, "timestamp")
            else millis,
            "LastModifiedTime": millis,
            "Tags": {t["Key"]: t["Value"] for t in endpoint.tags or []},
        }
        if reason:
            detail["FailureReason"] = reason
        if pending:
            detail["PendingDeploymentSummary"] = {
                "EndpointConfigName": pending,
                "StartTime": millis,
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "VariantStatus": [{"Status": s, "StartTime": millis} for s in steps or []],
                    }
                ],
            }
        self.emit(
            {
                "source": "aws.sagemaker",
                "detail-type": detail_type,
                "time": when,
                "account": endpoint.arn.split(":")[4],
                "region": endpoint.arn.split(":")[3],
                "resources": [endpoint.arn],
                "detail": detail,
            }
        )

    def created(self, endpoint: Any) -> None:
        endpoint.endpoint_status = "Creating"
        self._event(endpoint, "CREATING")
        self.later(lambda: self._end(endpoint, None, None, None))

    def updating(
        self, endpoint: Any, config_name: str, config: dict[str, Any], deployment: dict[str, Any]
    ) -> None:
        endpoint.endpoint_status = "Updating"
        old = endpoint.endpoint_config_name
        # DescribeEndpoint names the config being deployed while a blue/green update runs.
        endpoint.pending_deployment_summary = {"EndpointConfigName": config_name}
        self._event(endpoint, "UPDATING", pending=config_name)
        routing = ((deployment or {}).get("BlueGreenUpdatePolicy") or {}).get(
            "TrafficRoutingConfiguration"
        ) or {}
        steps = {
            "CANARY": ["Creating", "ActivatingTraffic", "Baking", "ActivatingTraffic", "Baking"],
            "LINEAR": ["Creating", "ActivatingTraffic", "Baking", "ActivatingTraffic", "Baking"],
            "ALL_AT_ONCE": ["Creating", "ActivatingTraffic", "Baking"],
        }.get(str(routing.get("Type")), [])
        for i in range(len(steps)):
            self._event(
                endpoint,
                "UPDATING",
                "SageMaker Endpoint Deployment State Change",
                config_name,
                steps[: i + 1],
            )
        self.later(lambda: self._end(endpoint, old, config_name, config))

    def _end(self, endpoint: Any, old: str | None, new: str | None, config: dict[str, Any] | None) -> None:
        account = endpoint.arn.split(":")[4]
        queue = (
            self.outcomes.get((account, endpoint.endpoint_name))
            or self.outcomes.get((None, endpoint.endpoint_name))
            or []
        )
        outcome = queue.pop(0) if queue else "succeed"
        if outcome == "hold":
            self.held[(account, endpoint.endpoint_name)] = (old, new, config)
            return
        self.finish(endpoint, outcome, old, new, config)

    def finish(
        self, endpoint: Any, outcome: str, old: str | None, new: str | None, config: dict[str, Any] | None
    ) -> None:
        from moto.core.utils import utcnow

        endpoint.last_modified_time = utcnow()
        endpoint.pending_deployment_summary = None
        if outcome == "succeed":
            if new and config:
                _apply_config(endpoint, new, config)
            endpoint.endpoint_status, endpoint.failure_reason = "InService", None
            self._event(endpoint, "IN_SERVICE")
        elif outcome == "fail":
            endpoint.endpoint_status = "Failed"
            endpoint.failure_reason = (
                "The primary container for production variant AllTraffic did not pass the ping health check. "
                "Please check CloudWatch logs for this endpoint."
            )
            self._event(endpoint, "FAILED", reason=endpoint.failure_reason)
        else:  # rollback / silent-rollback: back on the old config, InService
            if outcome == "rollback":
                endpoint.endpoint_status = "RollingBack"
                self._event(endpoint, "ROLLING_BACK", pending=new)
                endpoint.failure_reason = "Auto-rollback: an alarm went into ALARM during the deployment."
            endpoint.endpoint_status = "InService"
            self._event(endpoint, "IN_SERVICE")

    def complete(self, backend: Any, name: str, outcome: str) -> None:
        key = (backend.account_id, name)
        if key not in self.held:
            raise ValueError(f"endpoint {name} of account {backend.account_id} is not held")
        old, new, config = self.held.pop(key)
        self.finish(backend.endpoints[name], outcome, old, new, config)
