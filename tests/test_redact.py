from __future__ import annotations

import pytest

from shared.sentry.redact import redact

SECRETS = [
    "sntrys_eyJpYXQiOjE3MDAwMDAwMDAuMCwidXJsIjoiaHR0cHM6Ly9zZW50cnkuaW8ifQ_abcdef",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "xoxb-1234567890-abcdefghij",
    "sk_live_abcdefghijklmnop",
    "AKIAABCDEFGHIJKLMNOP",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_well_known_token_shapes_are_removed(secret: str) -> None:
    assert secret not in redact(f"failed with {secret} while calling")


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("password=hunter2 user=bob", "hunter2"),
        ('{"api_key": "abc123def456"}', "abc123def456"),
        ("DB_PASSWORD: s3cr3t!", "s3cr3t!"),
        ("client_secret=zzz999yyy", "zzz999yyy"),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        ("postgres://app:pa55word@db:5432/app", "pa55word"),
        ("https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/1", "0123456789abcdef0123456789abcdef"),
        ("contact jane.doe+ops@example.co.uk now", "jane.doe+ops@example.co.uk"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----", "MIIabc"),
        ("key " + "ab" * 32, "ab" * 32),
    ],
)
def test_secrets_and_emails_are_removed(text: str, gone: str) -> None:
    assert gone not in redact(text)


def test_ordinary_text_is_kept() -> None:
    text = "ReferenceError: blooopy is not defined at /runner line 3 (release 1764232abcdef0123456789abcdef01234567890)"
    assert redact(text) == text


def test_a_private_key_under_a_secret_name_goes_whole() -> None:
    text = '{"private_key": "-----BEGIN RSA PRIVATE KEY-----\\nMIIEsecretbody\\n-----END RSA PRIVATE KEY-----"}'
    assert "MIIEsecretbody" not in redact(text)


def test_upper_case_keys_are_masked_too() -> None:
    assert redact('PASSWORD="Xy12345" Client_Secret: abcdef') == 'PASSWORD="[redacted]" Client_Secret: [redacted]'
