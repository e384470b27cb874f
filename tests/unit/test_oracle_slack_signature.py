"""Steward's Slack request verification, cross-checked against slack_sdk's SignatureVerifier.

slack_sdk is Slack's own implementation of "Verifying requests from Slack": its signer signs the
requests here, and its verifier must reach the same verdict as Steward's on each of them.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.signature import Clock, SignatureVerifier

from steward.approvals.slack_signature import verify_slack_signature

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TS = 1_700_000_000
BODY = 'payload={"type":"block_actions","actions":[{"action_id":"steward_approve","value":"req-1"}]}'


class FixedClock(Clock):
    def __init__(self, now: int) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now)


def slack_signs(secret: str, timestamp: int, body: str) -> str:
    return SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body) or ""


def both(secret: str, timestamp: int, body: str, signature: str, now: int) -> tuple[bool, bool]:
    """(Steward's verdict, slack_sdk's verdict) on one request."""
    ours = verify_slack_signature(secret, str(timestamp), body.encode(), signature, now=now)
    theirs = SignatureVerifier(secret, clock=FixedClock(now)).is_valid(body, str(timestamp), signature)
    return ours, theirs


def test_a_request_slack_signed_is_accepted_by_both():
    # Given a request signed by slack_sdk with the app's signing secret, 10 seconds ago
    signature = slack_signs(SECRET, TS, BODY)
    # When both verifiers check it
    # Then both accept it
    assert both(SECRET, TS, BODY, signature, now=TS + 10) == (True, True)


def test_a_request_signed_with_another_secret_is_refused_by_both():
    # Given a request signed with another app's secret
    signature = slack_signs("another-apps-secret", TS, BODY)
    # When verified with ours
    # Then both refuse it
    assert both(SECRET, TS, BODY, signature, now=TS) == (False, False)


def test_a_request_older_than_five_minutes_is_refused_by_both():
    # Given a genuine request
    signature = slack_signs(SECRET, TS, BODY)
    # When it arrives 301 seconds after its timestamp (and, for the boundary, at exactly 300)
    # Then both refuse the stale one and accept the one on the boundary
    assert both(SECRET, TS, BODY, signature, now=TS + 301) == (False, False)
    assert both(SECRET, TS, BODY, signature, now=TS + 300) == (True, True)


def test_a_request_from_more_than_five_minutes_ahead_is_refused_by_both():
    signature = slack_signs(SECRET, TS, BODY)
    assert both(SECRET, TS, BODY, signature, now=TS - 301) == (False, False)


def test_a_tampered_body_is_refused_by_both():
    # Given a genuine signature for a "reject" click
    signature = slack_signs(SECRET, TS, BODY.replace("approve", "reject"))
    # When the body is changed to "approve"
    # Then both refuse it
    assert both(SECRET, TS, BODY, signature, now=TS) == (False, False)


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(st.characters(codec="utf-8"), min_size=1, max_size=40).filter(str.strip),
    body=st.text(st.characters(codec="utf-8"), max_size=300),
    skew=st.integers(min_value=-400, max_value=400),
    signer=st.sampled_from(["same", "other-secret", "other-body", "other-timestamp"]),
)
def test_both_verifiers_agree_on_any_request(secret, body, skew, signer):
    # Given any request, signed rightly or in one of the ways an attacker could get wrong
    timestamp = TS
    signature = {
        "same": lambda: slack_signs(secret, timestamp, body),
        "other-secret": lambda: slack_signs(secret + "x", timestamp, body),
        "other-body": lambda: slack_signs(secret, timestamp, body + "x"),
        "other-timestamp": lambda: slack_signs(secret, timestamp + 1, body),
    }[signer]()
    # When both verify it at some clock skew
    ours, theirs = both(secret, timestamp, body, signature, now=TS + skew)
    # Then they agree
    assert ours == theirs
