"""The Lambda service of the sandbox: invocations in execution environments, asynchronous retries and
on-failure destinations, SQS event sources, dead-letter queues and their redrive, handler logs."""

from sandbox.lambdas.dead_letters import DeadLetters
from sandbox.lambdas.event_sources import QueuePoller
from sandbox.lambdas.service import Lambdas

__all__ = ["DeadLetters", "Lambdas", "QueuePoller"]
