"""IAM in the sandbox: every AWS call a handler makes is checked against its function's role, as AWS would.

The roles come from the translated template (sandbox/template.py): each function's inline statements,
the SAM policy templates already expanded by the translator, and the AWS managed policies SAM attaches
(their documents are below; an unknown one stops the sandbox, it is never skipped). Each botocore call a
handler makes is turned into what IAM really authorizes for it (`requests_for`): the per-item actions
of a TransactWriteItems, each table of a BatchGetItem, the index ARN of a GSI query, sagemaker:AddTags
when a Create passes Tags, iam:PassRole for CreateModel's ExecutionRoleArn with iam:PassedToService,
kms:Decrypt for an object, secret or parameter encrypted with a customer key, the queue ARN behind a
QueueUrl, a secret's full ARN with its random suffix. What Lambda does with the role on the function's
behalf is checked too: its logs and traces, the SQS event source's polling, the on-failure destination.
An EventBridge rule's dead-letter queue is checked against the queue's resource policy. In a
multi-account sandbox (sandbox/accounts.py), sts:AssumeRole of a workload account's role is also
checked against that role's trust policy, and every call made with the credentials it returns is
checked against that role's policies, in its account.

Evaluation follows IAM's: an explicit Deny wins, then any Allow, else the implicit deny; Action and
NotAction, Resource and NotResource; `*` and `?` wildcards; actions compared case-insensitively,
resources case-sensitively, an ARN segment by segment (a `*` that ends a segment may run past colons);
Condition operators with IfExists and ForAnyValue/ForAllValues (README "IAM in the sandbox" has the
table of rules, each tested in tests/unit/test_iam_rules.py).

Modes (`Sandbox(iam=...)` or STEWARD_SANDBOX_IAM): "enforce" (the default) answers a call its role does
not allow with the AccessDenied the service returns, and `Sandbox.stop()` raises when anything was
denied during the run, so a handler that swallows the error still fails its test; "soft" lets the call
through and only records the denial; "off" installs nothing. `python -m sandbox.iam report` runs the
scenarios of tests/sandbox/iam_scenarios.py and prints, per function, what it used beside what it is
granted, with the reasons template.yaml gives (`# not in the sandbox: ...`) for what no scenario uses
(`make iam-report`). `dropping()` / STEWARD_SANDBOX_IAM_DROP run sandboxes without chosen statements: the
drop test (tests/sandbox/test_iam_drop.py, `make iam-drop`) shows each statement a function needs is needed.
"""

from sandbox.iam.actions import IAM_PREFIX, Call, requests_for, s3_missing_key
from sandbox.iam.conditions import MULTIVALUED_KEYS, Condition, action_matches, arn_like, resource_matches
from sandbox.iam.enforcer import Enforcer
from sandbox.iam.policy import (
    MANAGED_POLICIES,
    SUPPORTED_KEYS,
    SUPPORTED_PREFIXES,
    Decision,
    Request,
    Statement,
    check_keys,
    evaluate,
    request,
    statements_of,
)
from sandbox.iam.report import StatementUse, _token, justifications, main, report, statement_uses
from sandbox.iam.roles import QueuePolicy, Role, queue_policies_of, roles_of
from sandbox.iam.settings import (
    ENV_DROP,
    ENV_MODE,
    ENV_USAGE,
    MODES,
    AccessDeniedError,
    IamError,
    log,
    mode_from,
)
from sandbox.iam.usage import FunctionUsage, Usage, collect, dropping, stable

__all__ = [
    "ENV_DROP",
    "ENV_MODE",
    "ENV_USAGE",
    "IAM_PREFIX",
    "MANAGED_POLICIES",
    "MODES",
    "MULTIVALUED_KEYS",
    "SUPPORTED_KEYS",
    "SUPPORTED_PREFIXES",
    "AccessDeniedError",
    "Call",
    "Condition",
    "Decision",
    "Enforcer",
    "FunctionUsage",
    "IamError",
    "QueuePolicy",
    "Request",
    "Role",
    "Statement",
    "StatementUse",
    "Usage",
    "_token",
    "action_matches",
    "arn_like",
    "check_keys",
    "collect",
    "dropping",
    "evaluate",
    "justifications",
    "log",
    "main",
    "mode_from",
    "queue_policies_of",
    "report",
    "request",
    "requests_for",
    "resource_matches",
    "roles_of",
    "s3_missing_key",
    "stable",
    "statement_uses",
    "statements_of",
]
