"""Standard Webhooks signatures: the specification's own example, and the receiver's checks."""

from __future__ import annotations

import base64

import pytest

from actors.webhooks import WebhookVerificationError, sign, signed_headers, verify

# The example of the Standard Webhooks specification (standard-webhooks repository).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

OTHER_SECRET = "whsec_" + base64.b64encode(b"another key, another sender").decode()


def test_sign_reproduces_the_specifications_example() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_signed_headers_carry_id_timestamp_and_signature() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)

    assert headers == {
        "content-type": "application/json",
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }


def test_without_a_secret_the_headers_carry_no_signature() -> None:
    headers = signed_headers(None, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)

    assert "webhook-signature" not in headers
    assert headers["webhook-id"] == SPEC_ID


def test_a_signed_message_verifies() -> None:
    # Given headers as the sender makes them, received in any letter case
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    received = {name.title(): value for name, value in headers.items()}

    # When the receiver verifies them within the tolerance, Then nothing is raised
    verify(SPEC_SECRET, received, SPEC_BODY, now=SPEC_TIMESTAMP + 60)


def test_a_key_pasted_without_its_prefix_verifies_too() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)

    verify(SPEC_SECRET.removeprefix("whsec_"), headers, SPEC_BODY, now=SPEC_TIMESTAMP)


def test_a_wrong_secret_is_refused() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)

    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(OTHER_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP)


def test_a_tampered_body_is_refused() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)

    with pytest.raises(WebhookVerificationError):
        verify(SPEC_SECRET, headers, b'{"test": 2432232315}', now=SPEC_TIMESTAMP)


def test_a_changed_message_id_is_refused() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    headers["webhook-id"] = "msg_replayed"

    with pytest.raises(WebhookVerificationError):
        verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP)


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_outside_the_tolerance_is_refused(offset: int) -> None:
    # Given a genuine message, received too long after (or before) it was signed
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)

    # When it is verified with the default five-minute tolerance, Then it is refused
    with pytest.raises(WebhookVerificationError, match="timestamp"):
        verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + offset)


def test_a_timestamp_at_the_edge_of_the_tolerance_verifies() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)

    verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 300)


def test_one_matching_signature_among_several_verifies() -> None:
    # Given a header with several space-separated signatures, as while a secret is rotated
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    other = sign(OTHER_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    headers["webhook-signature"] = f"v2,abc {other} not-a-signature {SPEC_SIGNATURE}"

    # When it is verified with the secret of one of them, Then it passes
    verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP)


def test_signatures_of_other_versions_do_not_count() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    headers["webhook-signature"] = SPEC_SIGNATURE.replace("v1,", "v1a,")

    with pytest.raises(WebhookVerificationError):
        verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    del headers[missing]

    with pytest.raises(WebhookVerificationError, match=missing):
        verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP)


def test_a_timestamp_that_is_not_a_number_is_refused() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    headers["webhook-timestamp"] = "yesterday"

    with pytest.raises(WebhookVerificationError, match="unix seconds"):
        verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP)


def test_a_secret_that_is_not_base64_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        sign("whsec_not base64!", SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
