"""The scenarios IAM's used-vs-granted report and the drop test run (README "IAM in the sandbox").

Each scenario is a piece of the test suite that drives the sandbox through paths of the system: most are
tests of the suite called as they are (each makes its own sandbox), a few are written here for paths no
fixture-free test takes alone (every kind of job on the reconciler's worklist, a tuning job for the
backfill, every scheduled function failing past its retries). Together they use every statement of
template.yaml that the sandbox can exercise (tests/sandbox/test_iam_report.py holds them to it).

`run(name, drop=...)` runs one with usage collected, optionally without some statements
(`sandbox.iam.dropping`), and says how it ended. `make iam-report` runs them all.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sandbox import Sandbox, iam
from tests.conftest import load


def _monitoring() -> None:
    """Model Monitor results (violations, a report never written) and an alarm found by its tags."""
    from tests.integration import test_monitoring as monitoring

    with Sandbox() as sb:
        monitoring.serving(sb)
        reactions = monitoring.TestReactions()
        reactions.test_violations_alert_once_with_the_top_violations_and_hang_under_the_serving_version(sb)
        reactions.test_a_missing_report_is_a_clear_alert_not_a_crash_loop(sb)
        reactions.test_a_tagged_alarm_maps_to_the_endpoint_its_tag_names(sb)


def _reconcile_every_kind() -> None:
    """A job of each kind left in flight, its last event lost: the reconciler describes each one."""
    fixtures = [
        "processing_job/in_progress.json",
        "transform_job/in_progress.json",
        "tuning_job/in_progress.json",
        "pipeline_execution/executing.json",
    ]
    with Sandbox(serve_api=False) as sb:
        sb.put_events([load(f) for f in fixtures])
        [run] = sb.run_schedules("reconcile")
        described = run["targets"][0]["result"]
        assert described["checked"] >= len(fixtures), described
        for operation in ("DescribeProcessingJob", "DescribeTransformJob", "DescribeHyperParameterTuningJob",
                          "DescribePipelineExecution"):  # fmt: skip
            assert sb.aws_calls[f"sagemaker.{operation}"] >= 1, operation


def _backfill_a_tuning_job() -> None:
    """A tuning job SageMaker holds and no event announced: the backfill lists and describes it."""
    detail = load("tuning_job/completed.json")["detail"]
    with Sandbox(serve_api=False) as sb:
        with sb.quietly():
            sb.client("sagemaker").create_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=detail["HyperParameterTuningJobName"],
                HyperParameterTuningJobConfig={
                    "Strategy": "Bayesian",
                    "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
                },
                TrainingJobDefinition={
                    "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
                    "RoleArn": "arn:aws:iam::123456789012:role/sagemaker",
                    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
                    "ResourceConfig": {
                        "InstanceType": "ml.m5.large",
                        "InstanceCount": 1,
                        "VolumeSizeInGB": 1,
                    },
                    "StoppingCondition": {"MaxRuntimeInSeconds": 60},
                },
            )
        assert sb.backfill()["done"] is True
        assert sb.aws_calls["sagemaker.DescribeHyperParameterTuningJob"] >= 1


def _failures_past_retries() -> None:
    """Every scheduled function, and the functions of a failed job and a monitoring result, failing each
    try (DynamoDB and SSM answer 500): Lambda sends each record to the function's on-failure destination."""
    with Sandbox(serve_api=False) as sb:
        with (
            sb.faults("dynamodb.*", rate=1.0, code="InternalServerError", status=500),
            sb.faults("ssm.*", rate=1.0, code="InternalServerError", status=500),
        ):
            results = sb.run_schedules()
            results += sb.put_events(
                [load("training_job/failed.json"), load("monitoring/completed_with_violations.json")]
            )
        failed = {t["function"] for r in results for t in r["targets"] if not t["ok"]}
        expected = {
            "reconcile_lineage",
            "send_digests",
            "sweep_approvals",
            "report_job_failure",
            "react_to_monitoring",
        }
        assert expected <= failed, failed


def _test(path: str, *names: str) -> Callable[[], None]:
    """Tests of one module of the suite, called in order (each makes its own sandbox)."""

    def scenario() -> None:
        import importlib

        module = importlib.import_module(path)
        for name in names:
            getattr(module, name)()

    scenario.__doc__ = f"{path}: {', '.join(names)}"
    return scenario


def _with_sandbox(path: str, sandbox: str, *names: str) -> Callable[[], None]:
    """Tests of one module that take a sandbox: each gets a fresh one from `sandbox`, a callable of the
    module (or "default" for `Sandbox()`), as its own fixture would give it."""

    def scenario() -> None:
        import importlib

        module = importlib.import_module(path)
        for name in names:
            options = {"policy": getattr(module, sandbox)()} if sandbox != "default" else {}
            with Sandbox(**options) as sb:
                getattr(module, name)(sb)

    scenario.__doc__ = f"{path}: {', '.join(names)}"
    return scenario


def _story_queries() -> None:
    """The story replayed (as tests/integration/test_lineage_queries.py's fixture does), then the delivery
    log read through the API."""
    from sandbox.demo.replay import create_sagemaker_resources
    from tests.conftest import EVENTS, story
    from tests.integration import test_lineage_queries as queries

    with Sandbox() as sb:
        resources = json.loads((EVENTS / "sagemaker_resources.json").read_text())
        create_sagemaker_resources(sb.client("sagemaker"), resources)
        sb.put_events(story() + [load(p) for p in queries.ROLLBACK])
        queries.test_delivery_log_since_long_ago_answers_quickly(sb)


SCENARIOS: dict[str, Callable[[], None]] = {
    # record_lineage, report_job_failure, notify (webhook signing, digests held), send_digests
    "notifications": _test(
        "tests.integration.test_notifications",
        "test_webhook_is_signed_verifiably_and_retried_on_429_then_5xx",
        "test_warnings_of_a_digest_route_arrive_as_one_scheduled_digest",
    ),
    # request_approval's gate and the approval page; the API's decisions; promote_model's stage approval
    "approvals": _test(
        "tests.integration.test_approvals",
        "test_gate_rejects_a_version_below_threshold_with_the_numbers",
        "test_the_page_shows_where_it_will_deploy_and_compares_with_what_production_serves",
        "test_quorum_needs_distinct_approvers",
    ),
    "approval-expiry": _test(
        "tests.integration.test_approvals",
        "test_reminders_then_expiry_on_schedule_and_expired_links_change_nothing",
    ),
    "lineage-page": _test(
        "tests.integration.test_data_checks",
        "test_bounds_that_hold_let_people_decide_and_the_page_shows_the_evidence",
    ),
    # promote_model: a stage's integration tests (InvokeEndpoint, the requests from S3); GET /status
    "stage-tests": _test(
        "tests.integration.test_stage_integration_tests",
        "test_a_failing_test_stops_the_promotion_before_prod_and_says_which_case",
        "test_a_test_that_cannot_run_is_a_failure",
    ),
    # promote_model through both stages, an operator's rollback through the API (the promotion queue)
    "promotion": _with_sandbox(
        "tests.integration.test_promotion",
        "policy",
        "test_approved_version_goes_to_staging_then_prod",
        "test_rollback_command_redeploys_the_previous_version",
        "test_the_schedule_ends_a_deployment_whose_last_event_was_lost",
    ),
    "slack-buttons": _test(
        "tests.integration.test_approvals", "test_slack_buttons_decide_only_with_a_valid_fresh_signature"
    ),
    "status-dlq": _test("tests.integration.test_status", "test_dlq_message_needs_attention"),
    "delivery-log": _story_queries,
    "target-account": _test(
        "tests.integration.test_promotion",
        "test_with_a_target_account_role_promotion_deploys_with_that_roles_credentials",
    ),
    "reconcile": _test(
        "tests.integration.test_reconcile_and_scale",
        "test_reconciler_repairs_a_lost_completed_event",
        "test_reconciler_repairs_a_lost_endpoint_update",
    ),
    "reconcile-every-kind": _reconcile_every_kind,
    # Debugger/Profiler rules that end after their job: record_lineage and the reconciler merge them forward,
    # the reconciler alerts (with the policy's routes); sweep_approvals re-gates with the training jobs read
    "training-rules-later": _test(
        "tests.integration.test_training_rules_later",
        "test_rules_that_end_after_the_job_are_read_from_describe_alerted_once_and_never_go_back",
        "test_the_gate_waits_for_rules_still_running_and_rejects_when_the_finding_arrives",
    ),
    "backfill": _test(
        "tests.integration.test_backfill",
        "test_a_rerun_changes_nothing",
        "test_resuming_a_finished_or_unknown_run",
    ),
    "backfill-tuning-job": _backfill_a_tuning_job,
    "monitoring": _monitoring,
    "retraining": _test(
        "tests.integration.test_monitoring",
        "test_a_pipeline_sagemaker_refuses_to_start_is_reported_not_retried",
    ),
    "refused-events": _test(
        "tests.integration.test_bad_identifiers",
        "test_an_empty_package_arn_is_refused_by_every_function_and_writes_nothing",
    ),
    "failures-past-retries": _failures_past_retries,
}


@dataclass
class ScenarioRun:
    name: str
    usage: iam.Usage
    error: BaseException | None
    seconds: float


def run(name: str, drop: Iterable[tuple[str, str]] = ()) -> ScenarioRun:
    """One scenario with its IAM usage collected, without the `drop` statements (function, Sid)."""
    scenario = SCENARIOS[name]
    start = time.monotonic()
    error: BaseException | None = None
    with iam.collect() as usage, iam.dropping(*drop), contextlib.redirect_stdout(io.StringIO()):
        try:  # what the tests print (the CLI's tables) is theirs, not the report's
            scenario()
        except Exception as exc:  # a dropped statement makes the scenario fail: that is what is looked at
            error = exc
    return ScenarioRun(name, usage, error, time.monotonic() - start)


# --- the drop test -----------------------------------------------------------------------------------------


def needed(usage: iam.Usage) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(function, statement key) → the requests that statement alone allowed in the run: the statements
    the run needs (one granted also by another statement is not needed on its own)."""
    return {(name, key): reqs for name, f in usage.functions.items() for key, reqs in f.needs.items() if reqs}


def grants(units: Iterable[tuple[str, str]], action: str, resource: str) -> bool:
    """Whether a statement made of these (action, resource) patterns covers the request."""

    def matches(pattern: str, value: str, match: Callable[[str, str], bool], negated: str) -> bool:
        if pattern.startswith(negated):
            return not any(match(p, value) for p in pattern[len(negated) :].split(","))
        return match(pattern, value)

    return any(
        matches(a, action, iam.action_matches, "NotAction:")
        and matches(r, resource, iam.resource_matches, "NotResource:")
        for a, r in units
    )


@dataclass
class Dropped:
    """What a scenario did without one statement: the denials the statement's grants explain."""

    scenario: str
    function: str
    statement: str
    run: ScenarioRun
    denials: list[dict[str, Any]]


def drop(name: str, function: str, statement: str, units: Iterable[tuple[str, str]]) -> Dropped:
    """Run scenario `name` with `statement` (a key) removed from `function`'s role."""
    result = run(name, drop=[(function, statement)])
    units = list(units)
    denials = [
        d
        for d in [*result.usage.denials, *result.usage.s3_refusals]
        if d.get("function") == function and grants(units, d["action"], d["resource"])
    ]
    return Dropped(name, function, statement, result, denials)
