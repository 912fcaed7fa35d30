from __future__ import annotations

from gateway.signature import SignatureFailure, check_timestamp, sign, verify_signature

BODY = b'{"action":"created"}'


def test_sentry_signature_is_lowercase_hex_hmac_sha256() -> None:
    # Value computed independently: hmac.new(b"secret", BODY, "sha256").hexdigest()
    import hashlib
    import hmac

    assert sign(BODY, "secret") == hmac.new(b"secret", BODY, hashlib.sha256).hexdigest()


def test_accepts_any_configured_secret_for_rotation() -> None:
    assert verify_signature(BODY, sign(BODY, "new"), ["old", "new"]) is None
    assert verify_signature(BODY, sign(BODY, "old"), ["old", "new"]) is None


def test_old_secret_refused_once_rotation_is_over() -> None:
    assert verify_signature(BODY, sign(BODY, "old"), ["new"]) is SignatureFailure.MISMATCH


def test_uppercase_signature_is_the_same_digest() -> None:
    assert verify_signature(BODY, sign(BODY, "s").upper(), ["s"]) is None


def test_rejections_say_which_check_failed() -> None:
    assert verify_signature(BODY, None, ["s"]) is SignatureFailure.MISSING
    assert verify_signature(BODY, "abc", ["s"]) is SignatureFailure.MALFORMED
    assert verify_signature(BODY, "z" * 64, ["s"]) is SignatureFailure.MALFORMED
    assert verify_signature(BODY + b" ", sign(BODY, "s"), ["s"]) is SignatureFailure.MISMATCH


def test_empty_body_is_verified_like_any_other() -> None:
    assert verify_signature(b"", sign(b"", "s"), ["s"]) is None


def test_timestamp_window() -> None:
    assert check_timestamp("1000", 1000 + 299, 300) is None
    assert check_timestamp("1000", 1000 + 301, 300) is SignatureFailure.STALE_TIMESTAMP
    assert check_timestamp("1000", 1000 - 301, 300) is SignatureFailure.STALE_TIMESTAMP
    assert check_timestamp(None, 1000, 300) is SignatureFailure.MISSING_TIMESTAMP
    assert check_timestamp("soon", 1000, 300) is SignatureFailure.BAD_TIMESTAMP
    assert check_timestamp("nan", 1000, 300) is SignatureFailure.STALE_TIMESTAMP
