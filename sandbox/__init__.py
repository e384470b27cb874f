"""Steward's embedded sandbox: the whole system on one machine with no AWS account.

from sandbox import Sandbox

with Sandbox() as sb:
    results = sb.put_events([event])
    graph = sb.lineage()
"""

from sandbox.accounts import Workload
from sandbox.endpoint_models import Invocation, ModelReply, Throttled
from sandbox.facade import Sandbox, SandboxError
from sandbox.template import TemplateError

__all__ = ["Invocation", "ModelReply", "Sandbox", "SandboxError", "TemplateError", "Throttled", "Workload"]
