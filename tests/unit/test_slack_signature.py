"""Slack request signatures: the v0 scheme, the 5-minute window, constant-time comparison of bytes."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from steward.approvals.slack_signature import verify_slack_signature

# The worked example of Slack's "Verifying requests from Slack" page: a known answer, not our own maths.
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
NOW = int(SLACK_TS)


def sign(secret: str, ts: str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()


def test_slacks_documented_example_verifies():
    # Given the request from Slack's documentation
    # When it is verified at its own timestamp
    # Then it is genuine
    assert verify_slack_signature(SLACK_SECRET, SLACK_TS, SLACK_BODY, SLACK_SIG, now=NOW)


def test_a_fresh_payload_signed_with_the_secret_verifies():
    # Given an interactive payload signed 10 seconds ago
    body = b'payload={"actions":[{"value":"approve"}]}'
    sig = sign("s3cret", "1700000000", body)
    # When verified now
    # Then it is accepted
    assert verify_slack_signature("s3cret", "1700000000", body, sig, now=1700000010)


@pytest.mark.parametrize(
    "signature",
    [
        "v0=" + "0" * 64,  # right shape, wrong digest
        SLACK_SIG.upper().replace("V0=", "v0="),  # Slack sends lowercase hex
        SLACK_SIG[3:],  # no version prefix
        "v1=" + SLACK_SIG[3:],  # unknown version
        SLACK_SIG[:-1],  # truncated
        "",
        "v0=" + "é" * 64,  # non-ASCII must be refused, not raise TypeError
        "v0=" + "a" * 5000,  # oversize
    ],
)
def test_an_invalid_signature_is_refused(signature):
    # Given a signature that is not Slack's for this body
    # When verified
    # Then it is refused (and nothing raises)
    assert not verify_slack_signature(SLACK_SECRET, SLACK_TS, SLACK_BODY, signature, now=NOW)


def test_the_wrong_secret_is_refused():
    # Given Slack's example signed under another app's secret
    # Then it is refused
    assert not verify_slack_signature("another-secret", SLACK_TS, SLACK_BODY, SLACK_SIG, now=NOW)
    assert not verify_slack_signature("", SLACK_TS, SLACK_BODY, SLACK_SIG, now=NOW)


def test_a_stale_request_is_refused_even_with_a_valid_signature():
    # Given a genuine request
    # When it arrives more than 5 minutes after its timestamp
    # Then it is refused (a captured request cannot be replayed later); at exactly 5 minutes it passes
    assert verify_slack_signature(SLACK_SECRET, SLACK_TS, SLACK_BODY, SLACK_SIG, now=NOW + 300)
    assert not verify_slack_signature(SLACK_SECRET, SLACK_TS, SLACK_BODY, SLACK_SIG, now=NOW + 301)


def test_a_request_from_the_future_is_refused():
    # Given a request stamped more than 5 minutes ahead of our clock
    # Then it is refused too (the window is symmetric)
    assert verify_slack_signature(SLACK_SECRET, SLACK_TS, SLACK_BODY, SLACK_SIG, now=NOW - 300)
    assert not verify_slack_signature(SLACK_SECRET, SLACK_TS, SLACK_BODY, SLACK_SIG, now=NOW - 301)


def test_the_tolerance_is_configurable():
    assert not verify_slack_signature(
        SLACK_SECRET, SLACK_TS, SLACK_BODY, SLACK_SIG, now=NOW + 61, tolerance=60
    )


@pytest.mark.parametrize(
    "timestamp", ["", "abc", "1531420618.0", " 1531420618", "1531420618\n", "+1531420618", "-1", "1e9", "١٢٣"]
)
def test_a_non_numeric_timestamp_is_refused(timestamp):
    # Given a timestamp header that is not plain ASCII digits, signed consistently with it
    sig = sign(SLACK_SECRET, timestamp, SLACK_BODY)
    # When verified
    # Then it is refused before any arithmetic
    assert not verify_slack_signature(SLACK_SECRET, timestamp, SLACK_BODY, sig, now=NOW)


def test_a_valid_signature_replayed_with_another_body_is_refused():
    # Given Slack's genuine signature for one body
    # When an attacker sends it with a different body (e.g. "reject" changed to "approve")
    tampered = SLACK_BODY.replace(b"roadrunner", b"wileecoyote")
    # Then it is refused
    assert not verify_slack_signature(SLACK_SECRET, SLACK_TS, tampered, SLACK_SIG, now=NOW)


def test_a_valid_signature_replayed_with_another_timestamp_is_refused():
    # Given a genuine request whose timestamp header is refreshed to get back inside the window
    # Then the signature no longer matches, because the timestamp is signed
    fresh = str(NOW + 3600)
    assert not verify_slack_signature(SLACK_SECRET, fresh, SLACK_BODY, SLACK_SIG, now=NOW + 3600)
