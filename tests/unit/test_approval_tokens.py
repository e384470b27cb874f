"""Approval link tokens: signing, verification reasons, key rotation, the CSRF value, log fingerprints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from steward.approvals.tokens import (
    CSRF_BUCKET_SECONDS,
    MAX_TOKEN_LENGTH,
    LinkClaims,
    TokenError,
    csrf_bucket,
    csrf_token,
    issue_token,
    token_fingerprint,
    verify_csrf,
)
from steward.approvals.tokens import verify_token as verify

OLD = b"o" * 32
NEW = b"n" * 32
KEYS = {"k2": NEW}
NOW = 1_700_000_000
EXP = NOW + 3600


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token(**overrides) -> str:
    args = {"keys": KEYS, "active_key_id": "k2", "request_id": "req-1", "approver": "alice@example.com"}
    args.update(overrides)
    return issue_token(expires_at=args.pop("expires_at", EXP), **args)


def reason_of(keys, tok, now=NOW) -> str:
    with pytest.raises(TokenError) as caught:
        verify(keys, tok, now)
    # The message never carries the token, nor either half of it.
    for part in [tok, *tok.split(".")]:
        if len(part) >= 8:
            assert part not in str(caught.value)
            assert part not in repr(caught.value)
    # Nor does a chained decoder error (whose message could quote the input) reach a traceback.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    return caught.value.reason


def test_round_trip_returns_the_bound_claims():
    # Given a link issued for one request, one approver, one expiry
    tok = token(nonce="fixed-nonce")
    # When it is verified before expiry
    claims = verify(KEYS, tok, NOW)
    # Then the claims are exactly what was bound
    assert claims == LinkClaims("req-1", "alice@example.com", EXP, "fixed-nonce", "k2")


def test_the_token_is_compact_and_url_safe_with_the_documented_payload():
    # Given an issued token
    tok = token()
    # Then it is two unpadded base64url parts, the payload names v, kid, rid, sub, exp, n
    body, sig = tok.split(".")
    assert set(tok) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    payload = json.loads(unb64(body))
    assert payload == {
        "v": 1,
        "kid": "k2",
        "rid": "req-1",
        "sub": "alice@example.com",
        "exp": EXP,
        "n": payload["n"],
    }
    assert len(unb64(payload["n"])) == 16 and len(unb64(sig)) == 32


def test_each_issue_gets_a_fresh_random_nonce():
    assert verify(KEYS, token(), NOW).nonce != verify(KEYS, token(), NOW).nonce


def test_non_ascii_approvers_and_request_ids_round_trip():
    tok = token(request_id="req-ü", approver="zoë@example.com")
    claims = verify(KEYS, tok, NOW)
    assert (claims.request_id, claims.approver) == ("req-ü", "zoë@example.com")


def test_a_tampered_payload_is_forged():
    # Given a genuine token whose payload is rewritten for another approver, keeping the signature
    body, sig = token().split(".")
    payload = json.loads(unb64(body))
    payload["sub"] = "mallory@example.com"
    tampered = b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()) + "." + sig
    # When verified
    # Then it is refused as forged
    assert reason_of(KEYS, tampered) == "forged"


def test_an_extended_expiry_is_forged():
    body, sig = token().split(".")
    payload = json.loads(unb64(body))
    payload["exp"] = EXP + 10**6
    assert reason_of(KEYS, b64(json.dumps(payload).encode()) + "." + sig) == "forged"


def test_a_tampered_signature_is_forged():
    # Given a genuine token whose signature has one byte flipped
    body, sig = token().split(".")
    raw = bytearray(unb64(sig))
    raw[0] ^= 1
    # Then it is forged; so is a signature of the wrong length or an empty-looking one
    assert reason_of(KEYS, f"{body}.{b64(bytes(raw))}") == "forged"
    assert reason_of(KEYS, f"{body}.{b64(bytes(raw[:16]))}") == "forged"
    assert reason_of(KEYS, f"{body}.AA") == "forged"


def test_a_token_signed_with_another_key_under_a_known_kid_is_forged():
    # Given an attacker who knows the kid but not the key
    tok = issue_token({"k2": b"x" * 32}, "k2", "req-1", "alice@example.com", EXP)
    assert reason_of(KEYS, tok) == "forged"


def test_an_expired_token_is_refused():
    # Given a genuine token
    tok = token(expires_at=NOW + 60)
    # When verified one second before, at, and after its expiry
    # Then it is valid only strictly before
    assert verify(KEYS, tok, NOW + 59).request_id == "req-1"
    assert reason_of(KEYS, tok, NOW + 60) == "expired"
    assert reason_of(KEYS, tok, NOW + 10**6) == "expired"


def test_an_expired_forgery_is_forged_not_expired():
    # Authentication comes first: an attacker learns nothing from the expiry check.
    body, _sig = token(expires_at=NOW - 1).split(".")
    assert reason_of(KEYS, f"{body}.{b64(b'0' * 32)}") == "forged"


def test_an_unknown_kid_is_refused():
    # Given a token signed under a key that has since been removed
    tok = issue_token({"k0": OLD}, "k0", "req-1", "alice@example.com", EXP)
    # Then it is refused with unknown-key
    assert reason_of(KEYS, tok) == "unknown-key"
    assert reason_of({}, tok) == "unknown-key"


def test_rotation_keeps_links_signed_with_the_old_key_valid():
    # Given a link issued while k1 was active
    old_link = issue_token({"k1": OLD}, "k1", "req-1", "alice@example.com", EXP)
    # When k2 becomes active but k1 stays in the key set for open requests
    keys = {"k1": OLD, "k2": NEW}
    new_link = issue_token(keys, "k2", "req-2", "bob@example.com", EXP)
    # Then both verify, each reporting its own key id
    assert verify(keys, old_link, NOW).key_id == "k1"
    assert verify(keys, new_link, NOW).key_id == "k2"
    # And once k1 is retired the old link is refused
    assert reason_of({"k2": NEW}, old_link) == "unknown-key"


def test_a_kid_cannot_point_at_another_keys_signature():
    # Given a k1 token relabelled as k2 (same signature)
    keys = {"k1": OLD, "k2": NEW}
    body, sig = issue_token(keys, "k1", "req-1", "alice@example.com", EXP).split(".")
    payload = json.loads(unb64(body))
    payload["kid"] = "k2"
    assert reason_of(keys, b64(json.dumps(payload).encode()) + "." + sig) == "forged"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "not.a.jwt",
        ".",
        "abc.",
        ".abc",
        "a b.c",
        "!!!!.????",
        "eyJ2IjoxfQ==.AAAA",  # padding is not the compact form
        b64(b"not json") + ".AAAA",
        b64(b"[1,2,3]") + ".AAAA",
        b64(b'{"v":1}') + ".AAAA",  # no kid
        b64(b'{"kid":7}') + ".AAAA",
        b64(b"[" * 1500) + ".AAAA",  # deep nesting must not escape as RecursionError
        b64(b"\xff\xfe") + ".AAAA",
        "A" * (MAX_TOKEN_LENGTH + 1),
    ],
)
def test_garbage_is_malformed(bad):
    # Given something that is not a token
    # Then it is malformed, and no other exception escapes
    assert reason_of(KEYS, bad) == "malformed"


def test_a_truncated_token_is_malformed_or_forged_never_accepted():
    # Given every prefix of a genuine token
    tok = token()
    for cut in range(len(tok)):
        # Then none verifies; cuts inside the payload are malformed
        with pytest.raises(TokenError) as caught:
            verify(KEYS, tok[:cut], NOW)
        assert caught.value.reason in {"malformed", "forged"}
        if cut <= tok.index("."):
            assert caught.value.reason == "malformed"


def test_an_oversize_token_is_malformed_before_parsing():
    body, sig = token().split(".")
    assert reason_of(KEYS, body + "." + sig + "A" * MAX_TOKEN_LENGTH) == "malformed"


def test_non_canonical_base64_is_malformed():
    # Given a genuine signature re-spelled with different trailing bits (decodes to the same bytes)
    body, sig = token().split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 1]
    assert unb64(respelled) == unb64(sig)
    # Then it is refused: one token has one spelling
    assert reason_of(KEYS, f"{body}.{respelled}") == "malformed"


def test_a_signed_payload_with_wrong_field_types_is_malformed():
    # Given a payload we signed ourselves but that is not a v1 link (defence against a signing bug)
    for payload in (
        {"v": 2, "kid": "k2", "rid": "r", "sub": "a", "exp": EXP, "n": "x"},
        {"v": 1, "kid": "k2", "rid": "r", "sub": "a", "exp": True, "n": "x"},
        {"v": 1, "kid": "k2", "rid": "r", "sub": "a", "exp": "9999999999", "n": "x"},
        {"v": 1, "kid": "k2", "rid": "", "sub": "a", "exp": EXP, "n": "x"},
        {"v": 1, "kid": "k2", "rid": "r", "sub": "a", "exp": EXP},
        {"v": 1, "kid": "k2", "rid": "r", "sub": "a", "exp": EXP, "n": "x", "admin": True},
    ):
        body = json.dumps(payload).encode()
        tok = b64(body) + "." + b64(hmac.new(NEW, body, hashlib.sha256).digest())
        assert reason_of(KEYS, tok) == "malformed"


def test_issuing_refuses_what_it_could_not_verify_or_should_not_sign():
    with pytest.raises(ValueError, match="active key"):
        issue_token(KEYS, "missing", "req-1", "a", EXP)
    with pytest.raises(ValueError, match="at least"):
        issue_token({"k": b"short"}, "k", "req-1", "a", EXP)
    with pytest.raises(ValueError, match="non-empty"):
        issue_token(KEYS, "k2", "", "a", EXP)
    with pytest.raises(ValueError, match="longer than"):
        issue_token(KEYS, "k2", "r" * MAX_TOKEN_LENGTH, "a", EXP)
    with pytest.raises(ValueError, match="nonces"):
        issue_token(KEYS, "k2", "req-1", "a", EXP, nonce="has space")


def test_csrf_value_is_bound_to_the_links_nonce():
    # Given the value rendered into the confirmation page of one link
    bucket = csrf_bucket(NOW)
    value = csrf_token(NEW, "nonce-A", bucket)
    # When a POST carries it
    # Then it verifies for that link only, under that key only
    assert verify_csrf(NEW, "nonce-A", value, bucket)
    assert not verify_csrf(NEW, "nonce-B", value, bucket)
    assert not verify_csrf(OLD, "nonce-A", value, bucket)
    assert csrf_token(NEW, "nonce-B", bucket) != value


def test_a_post_without_the_pages_csrf_value_is_refused():
    bucket = csrf_bucket(NOW)
    for candidate in ("", "x", "A" * 43, "é" * 43, csrf_token(NEW, "nonce-A", bucket) + "A", "A" * 10_000):
        assert not verify_csrf(NEW, "nonce-A", candidate, bucket)


def test_csrf_value_survives_one_bucket_boundary_but_not_two():
    # Given a page rendered at the end of a bucket
    rendered = csrf_bucket(NOW)
    value = csrf_token(NEW, "nonce-A", rendered)
    # Then it is accepted in the next bucket, refused after that, and never ahead of time
    assert csrf_bucket(NOW + CSRF_BUCKET_SECONDS) == rendered + 1
    assert verify_csrf(NEW, "nonce-A", value, rendered + 1)
    assert not verify_csrf(NEW, "nonce-A", value, rendered + 2)
    assert not verify_csrf(NEW, "nonce-A", value, rendered - 1)


def test_csrf_value_is_not_the_token_signature():
    # The anti-forgery value must not double as (or reveal) anything that signs links.
    tok = token(nonce="nonce-A")
    assert csrf_token(NEW, "nonce-A", csrf_bucket(NOW)) not in tok


def test_fingerprint_is_short_stable_and_never_the_token():
    # Given a token
    tok = token()
    # When fingerprinted for a log line
    fp = token_fingerprint(tok)
    # Then it is short, stable, distinct per token, and contains no part of the token
    assert fp != tok and len(fp) < 24 and fp == token_fingerprint(tok)
    assert fp != token_fingerprint(token())
    assert not any(part in fp for part in tok.split("."))
    assert token_fingerprint("garbage\udcff").startswith("tok-")
