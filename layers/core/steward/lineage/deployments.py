"""Use cases: an endpoint's deployment history and what it served at a given time.

Derived from the endpoint's recorded status history (every Endpoint / Endpoint Deployment State Change
keeps the serving config and the pending one), so it holds for deployments Steward did not start and
for silent rollbacks: an update whose endpoint returns InService on the old config rolled back, whatever
the events said. Records written by the promotion function (who approved, through which channel) are
merged in by deployment id when present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from steward.kernel.errors import NotFoundError
from steward.kernel.times import iso_z


class HistoryReader(Protocol):
    def get_nodes(self, ids: Any) -> dict[str, dict[str, Any]]: ...
    def history(self, node_id: str) -> list[dict[str, Any]]: ...
    def node_with_edges(
        self, node_id: str, direction: str
    ) -> tuple[dict[str, Any] | None, list[dict[str, str]]]: ...


_SERVING_STATUSES = ("InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed")


def deployment_history(store: HistoryReader, endpoint_id: str) -> list[dict[str, Any]]:
    """Every deployment of the endpoint, oldest first: config, previous config, start, end, outcome."""
    if not store.get_nodes([endpoint_id]):
        raise NotFoundError(f"no endpoint {endpoint_id!r} in the lineage store")
    deployments: list[dict[str, Any]] = []
    serving: str | None = None  # the config serving traffic before this status change
    current: dict[str, Any] | None = None
    for item in sorted(store.history(endpoint_id), key=lambda h: h["time"]):
        status, when = item["status"], item["time"]
        config, pending = item.get("endpointConfigName"), item.get("pendingEndpointConfigName")
        target = pending or (config if status == "Creating" else None)
        if target and (current is None or current["endpointConfigName"] != target):
            if current is not None:
                current.update(outcome="superseded", endedAt=when)
            current = {
                "id": f"{endpoint_id}#{when}",
                "endpointConfigName": target,
                "previousEndpointConfigName": serving,
                "startedAt": when,
                "endedAt": None,
                "outcome": "in-progress",
            }
            deployments.append(current)
        if status == "RollingBack" and current is not None:
            current["outcome"] = "rolling-back"
        elif status == "InService" and current is not None:
            # InService on the old config is a rollback, whatever the deployment events said.
            current.update(
                outcome="succeeded" if config == current["endpointConfigName"] else "rolled-back",
                endedAt=when,
            )
            current = None
        elif status == "InService" and serving is not None and config and config != serving:
            deployments.append(
                {  # an update whose other events were lost
                    "id": f"{endpoint_id}#{when}",
                    "endpointConfigName": config,
                    "previousEndpointConfigName": serving,
                    "startedAt": None,
                    "endedAt": when,
                    "outcome": "succeeded",
                }
            )
        elif status in ("Failed", "UpdateRollbackFailed") and current is not None:
            current.update(
                outcome="failed" if status == "Failed" else "rollback-failed",
                endedAt=when,
                failureReason=item.get("failureReason"),
            )
            current = None
        if status in _SERVING_STATUSES and config:
            serving = config
    _describe_versions(store, endpoint_id, deployments)
    return deployments


def _config_id(endpoint_id: str, config: str) -> str:
    return endpoint_id.replace(":endpoint/", ":endpoint-config/", 1).rsplit("/", 1)[0] + "/" + config.lower()


def versions_of(
    store: HistoryReader, endpoint_id: str, config: str, cache: dict[str, Any]
) -> list[dict[str, Any]]:
    """The model packages an endpoint config serves, with who approved each (from the lineage)."""
    if config in cache:
        return cache[config]  # type: ignore[no-any-return]
    _, model_edges = store.node_with_edges(_config_id(endpoint_id, config), "upstream")
    packages: list[str] = []
    for model in [e["from"] for e in model_edges if e["relation"] == "used-by"]:
        _, package_edges = store.node_with_edges(model, "upstream")
        packages += [
            e["from"]
            for e in package_edges
            if e["relation"] == "instantiated-as" and ":model-package/" in e["from"]
        ]
    deployed: dict[str, str] = {}
    if not packages:  # the config was never described (another account, no read role): Steward's records
        deployed = _deployed_packages(store, endpoint_id, config)
        packages = list(deployed)
    nodes = store.get_nodes(packages + [f"{p}/approval" for p in packages]) if packages else {}
    versions = []
    for package in packages:
        node, approval = nodes.get(package, {}), nodes.get(f"{package}/approval", {})
        version = {
            "modelPackageArn": package,
            "version": node.get("version"),
            "status": node.get("status"),
            "approvedBy": approval.get("approvedBy"),
            "approvalDescription": node.get("approvalDescription"),
        }
        if package in deployed:
            version["fromDeployment"] = deployed[package]  # known from that record, not from SageMaker
        versions.append(version)
    cache[config] = versions
    return versions


def _deployed_packages(store: HistoryReader, endpoint_id: str, config: str) -> dict[str, str]:
    """{package ARN: deployment id} of the deployments Steward made of `config` on the endpoint: its own
    record of what it deployed, which needs no Describe call (README "Multi-account")."""
    _, edges = store.node_with_edges(endpoint_id, "upstream")
    ids = [e["from"] for e in edges if e["relation"] == "deployed-to"]
    found: dict[str, str] = {}
    for node in store.get_nodes(ids).values() if ids else []:
        package = node.get("modelPackageArn")
        if str(node.get("endpointConfigName") or "").lower() == config.lower() and package:
            found.setdefault(str(package).lower(), str(node.get("deploymentId") or node["id"]))
    return found


def _describe_versions(store: HistoryReader, endpoint_id: str, deployments: list[dict[str, Any]]) -> None:
    cache: dict[str, Any] = {}
    for deployment in deployments:
        deployment["versions"] = versions_of(store, endpoint_id, deployment["endpointConfigName"], cache)
        previous = deployment.get("previousEndpointConfigName")
        deployment["previousVersions"] = versions_of(store, endpoint_id, previous, cache) if previous else []


def serving_at(store: HistoryReader, endpoint_id: str, at: datetime) -> dict[str, Any]:
    """The config (and its models and packages) the endpoint served at `at`, from its status history."""
    if not store.get_nodes([endpoint_id]):
        raise NotFoundError(f"no endpoint {endpoint_id!r} in the lineage store")
    moment = iso_z(at)
    config, since = None, None
    for item in sorted(store.history(endpoint_id), key=lambda h: h["time"]):
        if item["time"] > moment:
            break
        serving_now = (
            item.get("endpointConfigName")
            if item["status"] not in ("Creating", "Failed", "Deleting")
            else None
        )
        if serving_now != config:
            config, since = serving_now, item["time"] if serving_now else None
    first = min((h["time"] for h in store.history(endpoint_id)), default=None)
    result: dict[str, Any] = {
        "firstRecordedAt": first,
        "endpoint": endpoint_id,
        "at": moment,
        "endpointConfigName": config,
        "since": since,
        "models": [],
        "modelPackages": [],
    }
    if config:
        versions = versions_of(store, endpoint_id, config, {})
        _, model_edges = store.node_with_edges(_config_id(endpoint_id, config), "upstream")
        result["models"] = [e["from"] for e in model_edges if e["relation"] == "used-by"]
        result["modelPackages"] = [v["modelPackageArn"] for v in versions]
        result["versions"] = versions
    return result
