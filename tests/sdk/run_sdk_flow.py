"""`make test-sdk`: the official SageMaker SDK (v3) as a user's client of `steward local serve --serve-aws`.

Runs in its own venv (.sdk: the SDK is about 700 MB, never in the app venv or the layer). The script
uses only the SDK (and boto3, which it is built on, for the metrics file in S3), HTTP for the approval
link, and the emails the served sandbox writes to its outbox folder: no call into the sandbox's Python
API. It registers a version with ModelMetrics, waits for Steward's gate to email the approver, approves
through the link, then reads the endpoint Steward promoted with `Endpoint.get` and `wait_for_status`.
Exit 0 when every step held, 1 otherwise (each step printed).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STEWARD = REPO / ".venv" / "bin" / "steward"


def _serve(outbox: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    serve = subprocess.Popen(
        [str(STEWARD), "local", "serve", "--serve-aws", "--policy", str(REPO / "tests/sdk/policy.yaml"),
         "--outbox", str(outbox)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )  # fmt: skip
    assert serve.stdout is not None
    env: dict[str, str] = {}
    deadline = time.monotonic() + 120
    for line in serve.stdout:
        print("   serve:", line.rstrip())
        found = re.search(r"export (AWS_ENDPOINT_URL=\S+ .*)$", line)
        if found:
            env.update(part.split("=", 1) for part in found.group(1).split())
        if line.startswith("Ctrl-C") or time.monotonic() > deadline:
            break
    if "AWS_ENDPOINT_URL" not in env:
        raise SystemExit("steward local serve --serve-aws printed no endpoint")
    return serve, env


def _wait(what: str, check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            print(f"✔ {what}")
            return found
        time.sleep(0.5)
    raise SystemExit(f"✘ {what}: not within {timeout:.0f} s")


def _approval_link(outbox: Path) -> str | None:
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_string(path.read_text(), policy=email.policy.default)
        if message["To"] == "alice@example.com" and "Approval requested" in str(message["Subject"]):
            html = message.get_body(preferencelist=("html",))
            links = re.findall(r'href="([^"]+/approvals/[^"]+)"', html.get_content() if html else "")
            return links[0].replace("&amp;", "&") if links else None
    return None


def main() -> int:
    outbox = Path(tempfile.mkdtemp(prefix="steward-sdk-outbox-"))
    serve, env = _serve(outbox)
    try:
        os.environ.update(env)  # what the user exports: fake credentials, the endpoint URL
        import boto3
        from sagemaker.core import resources
        from sagemaker.core.shapes import MetricsSource, ModelMetrics, ModelQuality

        # ModelPackage.create is typed with the model card's InferenceSpecification (containers only),
        # not the registry's: an SDK quirk, worked around by passing that type.
        from sagemaker.core.shapes.model_card_shapes import ContainersItem, InferenceSpecification

        session = boto3.session.Session(region_name=env["AWS_DEFAULT_REGION"])
        session.client("s3").create_bucket(Bucket="sagemaker-sdk-reports")
        session.client("s3").put_object(
            Bucket="sagemaker-sdk-reports",
            Key="eval.json",
            Body=json.dumps({"metrics": {"auc": {"value": 0.91}}}),
        )
        resources.ModelPackageGroup.create(model_package_group_name="sdk-models", session=session)
        print("✔ ModelPackageGroup.create")
        try:
            package = resources.ModelPackage.create(
                model_package_group_name="sdk-models",
                model_approval_status="PendingManualApproval",
                inference_specification=InferenceSpecification(
                    containers=[ContainersItem(image="img:1", model_data_url="s3://sdk-models/m.tar.gz")]
                ),
                model_metrics=ModelMetrics(
                    model_quality=ModelQuality(
                        statistics=MetricsSource(
                            content_type="application/json", s3_uri="s3://sagemaker-sdk-reports/eval.json"
                        )
                    )
                ),
                session=session,
            )
        except KeyError as exc:
            # The SDK's own bug: CreateModelPackage answers {"ModelPackageArn"} (as the API reference
            # says), and ModelPackage.create then reads response["ModelPackageName"]. The version is
            # registered: read it back by its group.
            print(f"   (SDK bug worked around: ModelPackage.create raised KeyError {exc})")
            listed = resources.ModelPackage.get_all(model_package_group_name="sdk-models", session=session)
            package = resources.ModelPackage.get(next(iter(listed)).model_package_arn, session=session)
        print(f"✔ ModelPackage.create → {package.model_package_arn}")
        link = _wait("the gate emailed the approver a link", lambda: _approval_link(outbox))
        page = urllib.request.urlopen(link, timeout=10).read().decode()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"csrf": csrf, "decision": "approve", "comment": "from the SDK test"})
        with urllib.request.urlopen(
            urllib.request.Request(link, data=body.encode(), method="POST"), timeout=30
        ) as answer:
            assert answer.status == 200, answer.status
        print("✔ approved through the emailed link")
        package = resources.ModelPackage.get(package.model_package_arn, session=session)
        assert package.model_approval_status == "Approved", package.model_approval_status
        print(f"✔ ModelPackage.get: {package.model_approval_status}")
        endpoint = _wait(
            "Steward promoted it to sdk-staging",
            lambda: _endpoint(resources, session),
        )
        endpoint.wait_for_status("InService", poll=1, timeout=60)
        endpoint = resources.Endpoint.get("sdk-staging", session=session)
        print(
            f"✔ Endpoint.get + wait_for_status: {endpoint.endpoint_status} on {endpoint.endpoint_config_name}"
        )
        config = resources.EndpointConfig.get(endpoint.endpoint_config_name, session=session)
        model = resources.Model.get(config.production_variants[0].model_name, session=session)
        served = model.primary_container.model_package_name if model.primary_container else None
        assert served == package.model_package_arn, served
        print(f"✔ it serves exactly the approved version: {served}")
        _register_with_model_builder(session)
        _wait(
            "ModelBuilder.register's version reached the gate too",
            lambda: _subject(outbox, "Approval requested: sdk-models version 2"),
        )
        return 0
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(30)


def _register_with_model_builder(session) -> None:
    """The SDK's high-level path: ModelBuilder.register, as a training pipeline's last step would."""
    from sagemaker.core.helper import session_helper
    from sagemaker.core.shapes import MetricsSource, ModelMetrics, ModelQuality
    from sagemaker.serve import ModelBuilder

    # The SDK's own bug: its Session asks STS at the fixed regional endpoint (sts_regional_endpoint),
    # ignoring AWS_ENDPOINT_URL, so against any other endpoint it fails to connect. Point it at ours.
    session_helper.sts_regional_endpoint = lambda region: os.environ["AWS_ENDPOINT_URL"]
    builder = ModelBuilder(
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/img:1",
        s3_model_data_url="s3://sdk-models/m2.tar.gz",
        role_arn="arn:aws:iam::123456789012:role/sdk",
        sagemaker_session=session_helper.Session(boto_session=session),
    )
    registered = builder.register(
        model_package_group_name="sdk-models",
        content_types=["text/csv"],
        response_types=["text/csv"],
        model_metrics=ModelMetrics(
            model_quality=ModelQuality(
                statistics=MetricsSource(
                    content_type="application/json", s3_uri="s3://sagemaker-sdk-reports/eval.json"
                )
            )
        ),
        approval_status="PendingManualApproval",
    )
    print(f"✔ ModelBuilder.register → {registered}")


def _subject(outbox: Path, wanted: str) -> bool:
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_string(path.read_text(), policy=email.policy.default)
        if wanted in " ".join(str(message["Subject"]).split()):
            return True
    return False


def _endpoint(resources, session):
    try:
        return resources.Endpoint.get("sdk-staging", session=session)
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
