"""A local stand-in for an API Gateway REST API (v1) with Lambda proxy ("AWS_PROXY") integrations.

Each HTTP request on 127.0.0.1 becomes the REST proxy event a Lambda handler receives in AWS, and the
handler's proxy response dict becomes the HTTP response. Where API Gateway's behaviour is observable
from a client, the sandbox copies it rather than doing something friendlier, so that a client that
works here works against the deployed stage:

- A resource or method that is not defined answers 403 {"message": "Missing Authentication Token"}
  (the MISSING_AUTHENTICATION_TOKEN gateway response), not 404 and not 405. HEAD and OPTIONS are
  ordinary methods: they reach a handler only through a HEAD/OPTIONS or ANY method on the resource
  (there is no automatic CORS preflight, as there is none in API Gateway without a CORS config).
- A handler that raises, or returns something that is not a valid proxy response (unknown keys, a
  non-string body, no statusCode...), answers 502 {"message": "Internal server error"}; the cause is
  logged, never sent to the client.
- A request body over `max_body_bytes` answers 413 without invoking (REQUEST_TOO_LARGE).
- A response without Content-Type gets application/json; `headers` and `multiValueHeaders` are merged
  (a key/value pair present in both is sent once).

Differences, on purpose: SigV4 is not verified (an AWS_IAM route sees a fixed local IAM user in
requestContext.identity), there are no binary media types (a request body that is not UTF-8 is passed
base64-encoded, and a response with isBase64Encoded true is always decoded), and a trailing slash on
the request path is ignored. HTTP is Werkzeug's: every response closes its connection (no
keep-alive), and a chunked body with chunk extensions or trailers is refused (400).

The parts: routes.py (resources, methods, matching), proxy.py (the proxy event and response),
server.py (LocalApi on Werkzeug's server; HTTP framing is Werkzeug's), stage.py (the template's API as
the sandbox's stage: routes, invocation through the façade, links pointed at the local server).
"""

from sandbox.apigw.proxy import (
    ACCOUNT_ID,
    LOCAL_ACCESS_KEY_ID,
    LOCAL_IAM_USER_ARN,
    LOCAL_IAM_USER_ID,
    MalformedResponse,
    build_proxy_event,
    local_iam_user_arn,
    parse_proxy_response,
)
from sandbox.apigw.routes import AUTH_TYPES, LOCAL_HOSTS, METHODS, Route, match_route
from sandbox.apigw.server import Invoke, LocalApi

__all__ = [
    "ACCOUNT_ID",
    "AUTH_TYPES",
    "LOCAL_ACCESS_KEY_ID",
    "LOCAL_HOSTS",
    "LOCAL_IAM_USER_ARN",
    "LOCAL_IAM_USER_ID",
    "METHODS",
    "Invoke",
    "LocalApi",
    "MalformedResponse",
    "Route",
    "build_proxy_event",
    "local_iam_user_arn",
    "match_route",
    "parse_proxy_response",
]
