from __future__ import annotations

import json

import pytest

from shared.sentry.redact import redact, redact_json

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


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ('"headers": [["X-Api-Key", "k3y-v4lue-123"], ["Accept", "*/*"]]', "k3y-v4lue-123"),
        ("[['Authorization', 'raw-token-no-scheme']]", "raw-token-no-scheme"),
        ('"body": "{\\"password\\": \\"two words\\"}"', "two words"),
        ("Bearer ab_cd_ef_gh_ij", "ab_cd_ef_gh_ij"),
        ("key sk-proj-Ab3_dEf6-hIj9kLm2nOp5qRs8tUv1wXy", "Ab3_dEf6-hIj9kLm2nOp5qRs8tUv1wXy"),
        ("glpat-x7Kq2LmN9p_R4sT6vW8y", "x7Kq2LmN9p_R4sT6vW8y"),
        ("github_pat_11ABCDEFG0123456789abc_Zy9Zy9Zy9Zy9Zy9Zy9", "11ABCDEFG0123456789abc"),
        ("AIzaSyA1b2C3d4E5f6G7h8I9j0K_l-M2n3O4p5Q", "SyA1b2C3d4E5f6G7h8I9j0K"),
        ("creds ASIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("jwt eyJhbGciOiJub25lIn0.eyJfX3N1Yl9fIjoiYS1iIn0.", "eyJfX3N1Yl9fIjoiYS1iIn0"),
        ("token: password: hunter2hunter2", "hunter2hunter2"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA (cut short", "b3BlbnNzaC1rZXktdjEAAAAA"),
    ],
)
def test_shapes_found_by_the_security_review_are_removed(text: str, gone: str) -> None:
    assert gone not in redact(text)


def test_a_number_under_a_secret_name_is_masked_and_the_json_kept() -> None:
    kept = json.loads(redact_json({"pin_password": 123456, "cookies": None, "user": {"session": True}}))
    assert kept == {"pin_password": "[redacted]", "cookies": None, "user": {"session": True}}


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        # passwords with "/" (generated, base64) and "@" in URLs: they leaked whole (or but for "pa/")
        ("redis://:Zx9/kLm+Qw==@cache:6379", "Zx9/kLm"),
        ("postgres://admin:pa/ss+w0rd@db.internal:5432/app", "pa/ss"),
        ("mongodb+srv://user:S3cr/et@cluster0.mongodb.net", "S3cr/et"),
        ("mysql://root:p@ss@db/x", "ss@db"),
        # published token shapes the review planted and found in a comment
        ("npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_abcdefghij"),
        ("SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "SG.abcdefghij"),
        ("whsec_abcdefghijklmnopqrstuvwxyz012345", "whsec_abcdef"),
        ("hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "hf_abcdefghij"),
        ("shpat_" + "c" * 32, "shpat_cccc"),
        ("dop_v1_" + "d" * 64, "dop_v1_dddd"),
        ("glsa_" + "a" * 32 + "_abcd1234", "glsa_aaaa"),
        ("pypi-AgEIcHlwaS5vcmc" + "a" * 50, "pypi-AgEI"),
        ("AccountKey=abcdEFGHijklMNOPqrstUVWXyz0123456789abcdEFGH==", "abcdEFGH"),
        ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "XXXXXXXX"),
        ("https://discord.com/api/webhooks/123/abcDEF_ghi-JKL", "abcDEF_ghi"),
    ],
)
def test_shapes_found_by_the_hands_on_review_are_removed(text: str, gone: str) -> None:
    assert gone not in redact(f"failed with {text} while calling")


def test_a_url_without_credentials_is_kept() -> None:
    text = "GET https://api.example.com:8443/v1/items?page=2 failed; see https://sentry.io/issues/1/"
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&sr=b&sig=Zx9kLm%2BQwAbCdEfGhIjKl%3D&se=2026", "Zx9kLm%2BQw"),
        ("SK0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
        ("AC0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
        ("sq0atp-AbCdEfGhIjKlMnOpQrStUv", "AbCdEfGhIjKl"),
        ("sq0csp-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg", "AbCdEfGhIjKl"),
        ("lin_api_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd", "AbCdEfGhIjKl"),
        ("dapi0123456789abcdef0123456789abcdef-2", "0123456789abcdef"),
        ("ya29.a0AfH6SMBxAbCdEfGhIjKlMnOpQrStUv", "a0AfH6SMBxAbCdEf"),
        ("1//0gAbCdEfGhIjKlMnOpQrStUvWx", "gAbCdEfGhIjKlMn"),
        ("EAABwzLixnjYBAAbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "wzLixnjYBAAbCdEf"),
        ("GET /maps/api?key=AIzaNotQuiteAKey123&page=2", "AIzaNotQuiteAKey123"),
        ("otp=938271", "938271"),
        ("OTP: 938271", "938271"),
        ("pin: 4821", "4821"),
        ('{"pin": "4821"}', "4821"),
        ("pin=4821", "4821"),
        ("the password is hunter2", "hunter2"),
        ("Password was 'Summer2026!'", "Summer2026!"),
        ("password is Tr0ub4dor&3", "Tr0ub4dor"),
        ("password is abc.defg1234", "defg1234"),
        ('{"note": "password is a/0000000000"}', "0000000000"),
        ("password: hunter2", "hunter2"),
        ("password is: hunter2", "hunter2"),
        ("the password was:Tr0ub4dor&3", "Tr0ub4dor"),
        ("PASSWORD IS 'Summer2026!'", "Summer2026!"),
        ("password is hunter22:", "hunter22"),
        ("https://x.blob.core.windows.net/c?sv=1&amp;sig=Zx9kLm%2BQwAbCdEfGhIjKl%3D", "Zx9kLm%2BQw"),
        ("otp: 123-456", "123-456"),
        ("pin=a1b2c3d4", "a1b2c3d4"),
    ],
)
def test_shapes_from_the_last_review_are_removed(text: str, gone: str) -> None:
    assert gone not in redact(f"failed with {text} while calling")


@pytest.mark.parametrize(
    "text",
    [
        "resolved in commit 1764232abcdef0123456789abcdef0123456789 by jane",
        "event 0123456789abcdef0123456789abcdef, trace 550e8400-e29b-41d4-a716-446655440000",
        "password is incorrect; Password is required; the password was changed. Password is wrong!",
        "mapping: none, spinner=3 footprint=4 cache_key=users:1 sort_key=name monkey=banana",
        '{"tags": [{"key": "browser", "value": "Chrome 120"}], "key": "release"}',
        "{items.map((item) => <Line key={item.id} item={item} />)} sorted(rows, key=lambda r: r.name)",
        "Ask the task runner: each stack, React SKIP, ACCESS denied, the pinned version",
        "signature sig=short; EAAB is short; dapi docs; ya29. and 1//0 alone",
        "SKU-0123456789abcdef0123456789abcdef and ACCOUNT 0123456789abcdef0123456789abcdef",
        # code and messages about passwords (a top frame's source line reaches the comment)
        "if password is None:", "while password is True:", "if user.password is old_password:",
        "if password is not None: return", "password is null; password is undefined; password is nil",
        "Password is Required", "Password is Invalid.", "password is TOO_SHORT", "password is not-set",
        "the password is 'incorrect'", 'the password was "EXPIRED"', "PASSWORD IS EMPTY", "password is NULL",
        # `sig=` as a keyword argument, not a query parameter
        "verify(sig=signature_bytes_here_long)", "hmac.check(payload, sig=computed_signature_value)",
        # otp/pin whose value is not digits
        "PIN: required", "otp: disabled", "pin: requests==2.31.0", "otp=enabled_for_admins",
    ],
)
def test_ordinary_words_ids_shas_and_uuids_are_kept(text: str) -> None:
    assert redact(text) == text
