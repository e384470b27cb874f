"""Notifications with fakes: routing, rendering hostile text, dedupe, retries, permanent failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html as html_lib
import json
import threading
import time as time_module
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from steward.notify import render
from steward.notify.adapters.channels import MAX_ATTEMPTS, MAX_WAIT_SECONDS, post_json, sign_webhook
from steward.notify.deliver import DeliveryError, RetryLaterError, Target, deliver, plan
from steward.notify.models import Fact, Kind, Link, Notification
from steward.policy import PolicyError, Severity, parse_policy

POLICY = parse_policy(
    {
        "default": {
            "notifications": {
                "critical": {"slack": ["#ops"], "email": ["ops@example.com"]},
                "info": {"slack": ["#activity"]},
            }
        },
        "groups": {
            "churn-models": {
                "pipelines": ["churn-train"],
                "notifications": {
                    "critical": {"slack": ["#churn"], "email": ["ds@example.com"], "webhooks": ["pager"]}
                },
            }
        },
        "webhooks": {"pager": {"url": "https://hooks.example.com/steward"}},
    }
)
HOSTILE = "<script>alert(1)</script> <!channel> <https://evil.example|click> & \x07\u202e"


def note(**overrides):
    base = {
        "kind": Kind.JOB_FAILED,
        "severity": Severity.CRITICAL,
        "subject": "Training job x failed",
        "dedupe_key": "job-failed:x",
        "model_group": "churn-models",
    }
    return Notification(**{**base, **overrides})


class FakeLog:
    def __init__(self):
        self.markers, self.records, self.completed = {}, [], set()
        self.sending, self.clock = {}, 0.0  # (key, target) -> lease end

    def claim(self, key, window):
        is_new = key not in self.markers
        self.markers.setdefault(key, set())
        return is_new, set(self.markers[key]) | ({"*complete"} if key in self.completed else set())

    def claim_target(self, key, target, lease_seconds):
        if target in self.markers.get(key, set()):
            return "delivered"
        if self.sending.get((key, target), -1.0) > self.clock:
            return "in-flight"
        self.sending[(key, target)] = self.clock + lease_seconds
        return "claimed"

    def release_target(self, key, target):
        self.sending.pop((key, target), None)

    def mark(self, key, target):
        self.markers[key].add(target)
        self.sending.pop((key, target), None)

    def complete(self, key):
        self.completed.add(key)

    def record(self, attempt):
        self.records.append(attempt)


class FakeChannel:
    def __init__(self, failures=None):
        self.sent, self.failures = [], dict(failures or {})

    def send(self, target, notification):
        if self.failures.get(target.address):
            raise (
                self.failures[target.address].pop(0)
                if isinstance(self.failures[target.address], list)
                else self.failures[target.address]
            )
        self.sent.append(target.address)
        return {}


def test_routes_by_group_and_severity_with_default_fallback():
    assert [t.key for t in plan(note(), POLICY)] == ["slack:#churn", "email:ds@example.com", "webhook:pager"]
    assert [t.key for t in plan(note(model_group="unknown"), POLICY)] == [
        "slack:#ops",
        "email:ops@example.com",
    ]
    assert plan(note(model_group=None, severity=Severity.WARNING), POLICY) == []  # no warning route: nothing
    assert [t.key for t in plan(note(recipients=["a@example.com", "U123"]), POLICY)] == [
        "email:a@example.com",
        "slack:U123",
    ]


def test_a_duplicate_sends_once():
    log, slack = FakeLog(), FakeChannel()
    channels = {"slack": slack, "email": FakeChannel(), "webhook": FakeChannel()}
    deliver(note(), POLICY, log, channels)
    second = deliver(note(), POLICY, log, channels)
    assert second.deduplicated
    assert slack.sent == ["#churn"]
    assert log.records[-1]["status"] == "deduplicated"


def test_transient_failure_retries_only_the_failed_target():
    log = FakeLog()
    email = FakeChannel({"ds@example.com": [DeliveryError("HTTP 503", permanent=False)]})
    slack = FakeChannel()
    channels = {"slack": slack, "email": email, "webhook": FakeChannel()}
    with pytest.raises(RetryLaterError):
        deliver(note(), POLICY, log, channels)
    deliver(note(), POLICY, log, channels)  # the queue redelivers
    assert slack.sent == ["#churn"]  # not twice
    assert email.sent == ["ds@example.com"]


def test_the_same_notification_delivered_twice_at_once_is_sent_once_per_target():
    # Given one delivery log, and a second invocation with another copy of the message that delivers it
    # while the first is sending (SQS delivers at least once: two pollers can hold copies)
    log, inside, second = FakeLog(), [], []
    channels = {}

    class SendingWhileTheOtherRuns(FakeChannel):
        def send(self, target, notification):
            if not inside:
                inside.append(target.key)
                try:
                    second.append(deliver(note(), POLICY, log, channels))
                except RetryLaterError as exc:
                    second.append(exc)
            return super().send(target, notification)

    channels.update(slack=SendingWhileTheOtherRuns(), email=FakeChannel(), webhook=FakeChannel())
    first = deliver(note(), POLICY, log, channels)
    # Then every target got it once; the copy left the target in flight to the first, to retry later
    assert [channels[c].sent for c in ("slack", "email", "webhook")] == [
        ["#churn"],
        ["ds@example.com"],
        ["pager"],
    ]
    assert isinstance(second[0], RetryLaterError) and "in flight" in str(second[0])
    assert not second[0].failed  # nothing failed: it is not counted as a failed notification
    assert first.sent == ["slack:#churn"]  # the others it found sent by the copy
    # and when the copy comes back (SQS redelivers it), it finds it sent
    assert deliver(note(), POLICY, log, channels).deduplicated


def test_a_send_in_flight_elsewhere_is_taken_over_once_its_lease_ran_out():
    # Given an invocation that claimed a target and died before sending (its message comes back later)
    log, slack = FakeLog(), FakeChannel()
    channels = {"slack": slack, "email": FakeChannel(), "webhook": FakeChannel()}
    log.claim("job-failed:x", 3600)
    assert log.claim_target("job-failed:x", "slack:#churn", 60) == "claimed"
    with pytest.raises(RetryLaterError):  # within the lease: the copy does not send it
        deliver(note(), POLICY, log, channels)
    assert slack.sent == []
    log.clock += 61  # the redelivery after the visibility timeout (longer than the lease)
    deliver(note(), POLICY, log, channels)
    assert slack.sent == ["#churn"]


def test_a_send_that_raised_something_else_gives_its_claim_back_for_the_retry():
    # Given a channel whose own bookkeeping failed before it sent (a throttled read of a Slack thread
    # anchor is a ClientError, not a DeliveryError): the invocation fails, and is retried at once
    log, slack = FakeLog(), FakeChannel({"#churn": [RuntimeError("throttled")]})
    channels = {"slack": slack, "email": FakeChannel(), "webhook": FakeChannel()}
    with pytest.raises(RuntimeError):
        deliver(note(), POLICY, log, channels)
    # Then the retry sends it (the claim is not left to hold it off for its lease)
    deliver(note(), POLICY, log, channels)
    assert slack.sent == ["#churn"]


def test_permanent_failure_is_recorded_and_not_retried():
    log = FakeLog()
    channels = {
        "slack": FakeChannel(),
        "webhook": FakeChannel(),
        "email": FakeChannel({"ds@example.com": DeliveryError("ses: MessageRejected", permanent=True)}),
    }
    report = deliver(note(), POLICY, log, channels)
    assert report.failed[0]["target"] == "email:ds@example.com"
    assert next(r for r in log.records if r["status"] == "failed")["permanent"] is True
    assert "note" not in log.completed and "job-failed:x" in log.completed


def test_slack_rendering_escapes_mrkdwn_and_drops_control_characters():
    message = render.slack_message(note(summary=HOSTILE, facts=[Fact(label="Reason", value=HOSTILE)]), "#c")
    text = json.dumps(message)
    assert "<!channel>" not in text and "<https://evil" not in text and "<script>" not in text
    assert "&lt;!channel&gt;" in text
    assert "\\u0007" not in text and "\\u202e" not in text
    assert message["unfurl_links"] is False


def test_email_html_is_escaped_and_has_a_text_part():
    n = note(
        subject=f"Job {HOSTILE}",
        summary=HOSTILE,
        links=[Link(text=HOSTILE, url="https://x.example/?a=1&b=<2>")],
    )
    html = render.email_html(n)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="https://x.example/?a=1&amp;b=&lt;2&gt;"' in html
    assert "\n" not in render.email_subject(note(subject="a\r\nBcc: evil@example.com"))
    assert "Training job x failed" in render.email_text(note())


def test_long_text_is_cut_with_a_marker():
    cut = render.clean("x" * 5000, 100)
    assert len(cut) == 100 and cut.endswith(render.TRUNCATED)


def test_links_must_be_web_links():
    with pytest.raises(ValueError, match="http"):
        Link(text="x", url="javascript:alert(1)")


def test_webhook_signature_is_verifiable_the_standard_webhooks_way():
    key = base64.b64encode(b"k" * 32).decode()
    body = b'{"type":"steward.job-failed"}'
    signature = sign_webhook("whsec_" + key, "msg_1", 1700000000, body)
    expected = base64.b64encode(
        hmac.new(b"k" * 32, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    ).decode()
    assert signature == f"v1,{expected}"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (
            {"default": {"notifications": {"critical": {"email": ["not-an-address"]}}}},
            "default.notifications.critical.email",
        ),
        ({"default": {}, "groups": {"g": {"notifications": {"loud": {}}}}}, "groups.g.notifications.loud"),
        ({"default": {}, "dedupe_window_seconds": 5}, "dedupe_window_seconds"),
        ({"default": {}, "webhooks": {"w": {"url": "http://example.com"}}}, "webhooks.w.url"),
        ({}, "default"),
    ],
)
def test_bad_policy_names_the_field(document, field):
    with pytest.raises(PolicyError) as caught:
        parse_policy(document)
    assert any(e.startswith(field) for e in caught.value.errors), caught.value.errors


def test_undefined_webhook_is_rejected():
    with pytest.raises(PolicyError, match="no webhook 'nope'"):
        parse_policy({"default": {"notifications": {"info": {"webhooks": ["nope"]}}}})


def test_shipped_default_policy_is_valid():
    from steward.policy import DEFAULT_POLICY_FILE

    assert parse_policy(DEFAULT_POLICY_FILE.read_text()).group_of_pipeline("churn-train") == "churn-models"


def test_target_keys_are_stable():
    assert Target("email", "a@b.c").key == "email:a@b.c"


class FakeDigestLog(FakeLog):
    def __init__(self):
        super().__init__()
        self.buckets = {}

    def hold_for_digest(self, bucket, notification):
        self.buckets.setdefault(bucket, []).append((f"{len(self.buckets.get(bucket, []))}", notification))

    def held(self, bucket):
        return list(self.buckets.get(bucket, []))

    def release(self, bucket, keys):
        self.buckets[bucket] = [(k, n) for k, n in self.buckets.get(bucket, []) if k not in keys]


DIGEST_POLICY = parse_policy(
    {
        "default": {
            "notifications": {"critical": {"slack": ["#ops"]}, "warning": {"slack": ["#ops"], "digest": True}}
        },
    }
)


def test_digest_routes_hold_then_send_one_message():
    from steward.notify.digest import send_digests

    log, slack = FakeDigestLog(), FakeChannel()
    channels = {"slack": slack, "email": FakeChannel(), "webhook": FakeChannel()}
    for i in range(3):
        report = deliver(
            note(severity=Severity.WARNING, dedupe_key=f"w{i}", subject=f"stopped {i}"),
            DIGEST_POLICY,
            log,
            channels,
        )
        assert report.digested
    deliver(note(dedupe_key="c"), DIGEST_POLICY, log, channels)  # critical is never held
    assert slack.sent == ["#ops"]
    sent = send_digests(DIGEST_POLICY, log, channels)
    assert sent == [{"bucket": "*default#warning", "count": 3}]
    assert slack.sent == ["#ops", "#ops"]
    assert log.held("*default#warning") == []
    assert send_digests(DIGEST_POLICY, log, channels) == []  # nothing held: nothing sent


def test_critical_routes_cannot_be_digested():
    with pytest.raises(PolicyError, match="critical is never held back"):
        parse_policy({"default": {"notifications": {"critical": {"slack": ["#x"], "digest": True}}}})


# --- one sanitizer for every channel --------------------------------------------------------------

# Everything a hostile description or failure reason may carry: C0 (NUL, BEL, VT, FF), CR LF, a tab,
# DEL, C1 (NEL, CSI), ANSI colour, cursor and title sequences, the bidi controls (LRM, RLM, ALM,
# embeddings, overrides, isolates), and markup each channel must escape. (A lone surrogate cannot reach
# a notification: pydantic refuses it. The page takes plain str, so the page test adds one.)
HOSTILE_TEXT = (
    "\x00job\x07 \x1b[31mfailed\x1b[0m\r\nline\ttwo\x0b\x0c\x7f\x85\x9b2J"
    "\x1b]0;pwned\x07 \u200eL\u200fR\u061c \u202aa\u202bb\u202cc\u202dd\u202ee"
    " \u2066f\u2067g\u2068h\u2069 <b>&amp;</b> \U0001f6a8"
)
HOSTILE_CLEANED = "job failed\nline\ttwo LR abcde fgh <b>&amp;</b> \U0001f6a8"


def test_the_sanitizer_removes_controls_ansi_bidi_and_lone_surrogates():
    # Given hostile text
    from steward.kernel.text import sanitize

    # When it is sanitized
    # Then only printable text, newlines and tabs remain (the markup is for each channel to escape)
    assert sanitize(HOSTILE_TEXT + "\ud800") == HOSTILE_CLEANED
    assert sanitize("\udfff" + HOSTILE_TEXT, multiline=False) == HOSTILE_CLEANED.replace("\n", " ").replace(
        "\t", " "
    )


def _page_description(description: str) -> str:
    from steward.approvals.page import confirmation_page

    page = confirmation_page(
        group="churn-models",
        version=5,
        package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/5",
        registered_by="bob@example.com",
        description=description,
        metrics=[],
        lineage_summary=[],
        deployment_plan=[],
        approver="alice@example.com",
        expires_at_iso="2026-11-30T00:00:00Z",
        form_action="/approvals/t",
        csrf="c",
        approvals_so_far=[],
        quorum=1,
    )
    return html_lib.unescape(page.split('<p class="desc">', 1)[1].split("</p>", 1)[0])


def test_hostile_text_is_cleaned_identically_on_the_page_in_emails_and_in_slack():
    # Given the same hostile description shown by the approval page, and a notification's summary
    n = note(summary=HOSTILE_TEXT)
    # When each channel renders it, and its own escaping is undone
    page = _page_description(HOSTILE_TEXT + "\ud800")
    email_text = render.email_text(n).split("\n\n")[1]
    email_html = html_lib.unescape(
        render.email_html(n).split('white-space:pre-wrap">', 1)[1].split("</p>")[0]
    )
    slack = render.slack_message(n, "#c")["blocks"][1]["text"]["text"]
    slack = slack.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    # Then every channel shows exactly the same cleaned text
    assert page == email_text == email_html == slack == HOSTILE_CLEANED


def test_hostile_names_are_cleaned_identically_in_single_line_places():
    # Given a hostile subject (a job or model name)
    n = note(subject=HOSTILE_TEXT)
    expected = HOSTILE_CLEANED.replace("\n", " ").replace("\t", " ")
    # When the email subject and the Slack header render it
    subject = render.email_subject(n).removeprefix("[Steward][CRITICAL] ")
    header = render.slack_message(n, "#c")["blocks"][0]["text"]["text"]
    # Then both show the same single line
    assert subject == header == expected


def test_the_approval_page_drops_ansi_sequences_whole():
    # Given a description coloured with ANSI escapes
    # When the page shows it
    # Then the sequences are gone, not just their ESC (no stray "[31m")
    assert _page_description("\x1b[31mred\x1b[0m") == "red"


# --- HTTP retries (urllib3's Retry) -----------------------------------------------------------------


class ScriptedServer:
    """A real HTTP server on 127.0.0.1 answering POSTs from a script of (status, headers)."""

    def __init__(self, script):
        self.script, self.requests = list(script), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, headers = server.script.pop(0) if server.script else (200, {})
                payload = b'{"ok": true}' if status < 300 else b'{"error": "scripted"}'
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    made = []

    def start(*script):
        made.append(ScriptedServer(script))
        return made[-1]

    yield start
    for s in made:
        s.close()


@pytest.fixture
def sleeps(monkeypatch):
    """Every sleep between attempts, recorded instead of slept."""
    import time

    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def test_429_then_5xx_are_retried_until_success(server, sleeps):
    # Given a receiver that answers 429, then 503, then 200
    s = server((429, {"Retry-After": "0"}), (503, {}), (200, {}))
    # When Steward posts
    status, _ = post_json(s.url, {"a": 1})
    # Then it retried twice and succeeded, sending the same body each time
    assert status == 200 and len(s.requests) == 3
    assert {r["body"] for r in s.requests} == {b'{"a": 1}'}


def test_a_permanent_4xx_is_not_retried(server, sleeps):
    # Given a receiver that answers 404
    s = server((404, {}))
    # When Steward posts
    with pytest.raises(DeliveryError) as caught:
        post_json(s.url, {"a": 1})
    # Then it is a permanent failure after one request, naming the status
    assert caught.value.permanent and "HTTP 404" in str(caught.value) and len(s.requests) == 1


def test_5xx_on_every_attempt_is_a_transient_failure(server, sleeps):
    # Given a receiver down for longer than the attempts
    s = server(*[(503, {})] * 5)
    # When Steward posts
    with pytest.raises(DeliveryError) as caught:
        post_json(s.url, {"a": 1})
    # Then it tried MAX_ATTEMPTS times and reports a failure worth retrying later (the queue redelivers)
    assert not caught.value.permanent and len(s.requests) == MAX_ATTEMPTS
    assert "HTTP 503" in str(caught.value)


def test_an_http_date_retry_after_is_honoured(server, sleeps):
    # Given a 503 whose Retry-After is an HTTP date three seconds ahead
    when = formatdate(time_module.time() + 3, usegmt=True)
    s = server((503, {"Retry-After": when}), (200, {}))
    # When Steward posts
    post_json(s.url, {"a": 1})
    # Then it waited until about that date (the hand-written loop fell back to 0.4 s), then succeeded
    assert len(s.requests) == 2
    assert 1.5 <= max(sleeps) <= MAX_WAIT_SECONDS


def test_a_retry_after_in_seconds_is_honoured(server, sleeps):
    s = server((429, {"Retry-After": "2"}), (200, {}))
    post_json(s.url, {"a": 1})
    assert sleeps == [2]


def test_a_long_retry_after_is_bounded(server, sleeps):
    # Given a receiver asking for an hour's wait (as a number, and as a date)
    s = server(
        (429, {"Retry-After": "3600"}),
        (503, {"Retry-After": formatdate(time_module.time() + 3600, usegmt=True)}),
    )
    # When Steward posts
    post_json(s.url, {"a": 1})
    # Then no wait exceeds MAX_WAIT_SECONDS (a Lambda must not sleep its timeout away)
    assert len(sleeps) == 2 and all(0 < w <= MAX_WAIT_SECONDS for w in sleeps)


def test_an_unreadable_retry_after_falls_back_to_the_backoff(server, sleeps):
    s = server((503, {"Retry-After": "soon"}), (503, {"Retry-After": "soon"}), (200, {}))
    assert post_json(s.url, {"a": 1})[0] == 200
    assert all(w <= MAX_WAIT_SECONDS for w in sleeps)


def test_a_redirect_is_not_followed(server, sleeps):
    # Given a receiver that redirects elsewhere (it could point at a plain-http or internal address)
    s = server((302, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    # When Steward posts
    with pytest.raises(DeliveryError) as caught:
        post_json(s.url, {"a": 1})
    # Then the redirect is a permanent failure, not followed
    assert caught.value.permanent and "HTTP 302" in str(caught.value) and len(s.requests) == 1


def test_an_unreachable_receiver_is_a_transient_failure(sleeps):
    # Given nothing listening on the port
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # When Steward posts
    with pytest.raises(DeliveryError) as caught:
        post_json(f"http://127.0.0.1:{port}/hook", {"a": 1})
    # Then it is worth retrying later
    assert not caught.value.permanent and "network" in str(caught.value)


def test_the_proxy_of_the_environment_is_used_as_urllib_did(monkeypatch):
    # Given a Lambda whose environment names an HTTPS proxy, and hosts that bypass it
    from steward.notify.adapters.channels import _proxy_for

    for name in ("https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example.com")
    # When Steward picks the way to a webhook
    # Then public hosts go through the proxy, bypassed hosts do not
    assert _proxy_for("https://hooks.slack.com/services/T/B/x") == "http://proxy.internal:3128"
    assert _proxy_for("https://internal.example.com/hook") is None
