"""The template's API deployed as a stage of the sandbox: its routes served by LocalApi on 127.0.0.1, each
request invoking the route's function through the façade, and the links the functions build pointed at
the local server instead of the execute-api URL they would name on AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.apigw.routes import Route
from sandbox.apigw.server import LocalApi
from sandbox.errors import SandboxError

if TYPE_CHECKING:
    from sandbox.facade import Sandbox


def start_stage(sb: Sandbox) -> LocalApi:
    """Serve the inventory's routes (`sb.api_port`, 0 for any free port) and return the running server."""
    assert sb.inventory is not None
    inventory = sb.inventory
    routes = [Route(method=r.method, path=r.path, function=r.function, auth=r.auth) for r in inventory.routes]

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        outcome = sb._invoke(inventory.functions[function], event)
        sb.drain()  # what the request set off (a registry update's event, notifications) happens now
        if not outcome["ok"]:
            raise SandboxError(outcome.get("error", "handler failed"))
        return outcome["result"]  # type: ignore[no-any-return]

    api = LocalApi(routes, invoke, stage=sb.stage, port=sb.api_port, account=sb.account)
    api.start()
    # Links the functions build point at the API Gateway URL; here that is the local server.
    deployed = f"https://sandboxapi.execute-api.{sb.region}.amazonaws.com/{sb.stage}"
    for spec in inventory.functions.values():
        for key, value in spec.environment.items():
            if deployed in value:
                spec.environment[key] = value.replace(deployed, str(api.url))
    return api
