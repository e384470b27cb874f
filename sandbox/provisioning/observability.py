"""Provisioners of what watches the stack: log groups and alarms (ids only: the sandbox runs neither)."""

from __future__ import annotations

from typing import Any

from sandbox.provisioning.registry import Provisioner, Stack, provisioner


@provisioner("AWS::Logs::LogGroup")
class LogGroup(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        group = stack.name_of(logical, props, "LogGroupName")
        return {"Ref": group, "Arn": f"arn:aws:logs:{stack.arn_base}:log-group:{group}:*"}


@provisioner("AWS::CloudWatch::Alarm")
class Alarm(Provisioner):
    def physical(self, stack: Stack, logical: str, props: dict[str, Any]) -> dict[str, Any]:
        alarm = stack.name_of(logical, props, "AlarmName")
        return {"Ref": alarm, "Arn": f"arn:aws:cloudwatch:{stack.arn_base}:alarm:{alarm}"}
