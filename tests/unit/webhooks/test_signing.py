"""Standard Webhooks signatures: the specification's published test vector, and verification."""

from __future__ import annotations

import base64

from chalicelib.webhooks import signing

# The vector published with the Standard Webhooks specification (also used by Svix's libraries):
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID, VECTOR_TS, VECTOR_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_reproduces_the_specification_vector() -> None:
    assert signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE


def test_verify_accepts_the_vector_and_refuses_a_changed_body_id_or_stale_timestamp() -> None:
    headers = {"Webhook-Id": VECTOR_ID, "Webhook-Timestamp": str(VECTOR_TS), "Webhook-Signature": VECTOR_SIGNATURE}
    assert signing.verify(VECTOR_SECRET, headers, VECTOR_BODY, now_s=VECTOR_TS + 10)
    assert not signing.verify(VECTOR_SECRET, headers, b'{"test": 2432232315}', now_s=VECTOR_TS)
    assert not signing.verify(VECTOR_SECRET, {**headers, "Webhook-Id": "msg_other"}, VECTOR_BODY, now_s=VECTOR_TS)
    assert not signing.verify(VECTOR_SECRET, headers, VECTOR_BODY, now_s=VECTOR_TS + 301)   # 5 min tolerance
    # a second signature (secret rotation) beside the right one still verifies
    assert signing.verify(VECTOR_SECRET, {**headers, "Webhook-Signature": "v1,AAAA " + VECTOR_SIGNATURE},
                          VECTOR_BODY, now_s=VECTOR_TS)


def test_new_secrets_are_whsec_prefixed_base64_of_32_random_bytes() -> None:
    a, b = signing.new_secret(), signing.new_secret()
    assert a.startswith("whsec_") and a != b
    assert len(base64.b64decode(a.removeprefix("whsec_"))) == 32


def test_headers_carry_id_timestamp_and_signature() -> None:
    h = signing.headers(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    assert h == {"webhook-id": VECTOR_ID, "webhook-timestamp": "1614265330", "webhook-signature": VECTOR_SIGNATURE}
