"""Bad input never gets a 5xx: property-based tests of the webhook route (hypothesis).

Every generated input is posted to the real app on a real Redis; the only answers allowed are a
clear 4xx or, for inputs that happen to be valid and signed, 202. The number of inputs tried is
printed (run with -s) and checked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.signature import sign
from tests.helpers import SECRET, load_webhook, signed_headers, wire_bytes

ALLOWED = {202, 400, 401, 413, 422}
EXAMPLES = 150
tried: dict[str, int] = {}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
header_names = st.sampled_from(
    ["Sentry-Hook-Signature", "Sentry-App-Signature", "Sentry-Hook-Resource",
     "Sentry-Hook-Timestamp", "Request-ID", "Content-Type", "Content-Length", "X-Other"]
)
header_values = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80
)


def hyp(**kwargs: Any) -> Callable[..., Any]:
    return settings(
        max_examples=EXAMPLES, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        **kwargs,
    )


@pytest.fixture
async def gateway(client_for: Callable[..., Any], redis: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await client_for(RESPONDER_MAX_BODY_BYTES="65536")
    return client


def check(response: httpx.Response, name: str) -> None:
    tried[name] = tried.get(name, 0) + 1
    assert response.status_code in ALLOWED, (response.status_code, response.text)
    if response.status_code != 202:
        assert "error" in response.json()


@hyp()
@given(body=st.binary(max_size=4096), headers=st.lists(st.tuples(header_names, header_values), max_size=8))
async def test_random_bytes_and_headers(gateway: httpx.AsyncClient, body: bytes, headers: list[tuple[str, str]]) -> None:
    response = await gateway.post("/webhooks/sentry", content=body, headers=headers)
    check(response, "random bytes and headers")
    assert response.status_code != 202 or not body.strip() or headers


@hyp()
@given(payload=json_values, resource=st.sampled_from(["issue", "error", "event_alert", "metric_alert", "installation", "comment", "seer", "whatever"]))
async def test_signed_random_json_for_every_resource(gateway: httpx.AsyncClient, payload: object, resource: str) -> None:
    body = wire_bytes(payload)
    response = await gateway.post("/webhooks/sentry", content=body, headers=signed_headers(body, resource))
    check(response, "signed random JSON")


@hyp()
@given(cut=st.integers(min_value=0, max_value=2000), name=st.sampled_from(["issue.created", "error.created", "event_alert.triggered"]))
async def test_signed_truncated_json(gateway: httpx.AsyncClient, cut: int, name: str) -> None:
    full = wire_bytes(load_webhook(name))
    body = full[: min(cut, len(full) - 1)]
    response = await gateway.post("/webhooks/sentry", content=body, headers=signed_headers(body, name.split(".")[0]))
    check(response, "truncated JSON")
    assert response.status_code in {400, 202}


@hyp()
@given(depth=st.integers(min_value=1, max_value=5000), huge=st.integers(min_value=0, max_value=60000))
async def test_deep_nesting_and_huge_strings(gateway: httpx.AsyncClient, depth: int, huge: int) -> None:
    nested = b"[" * depth + b"]" * depth
    body = b'{"action":"created","data":{"n":' + nested + b',"s":"' + b"x" * huge + b'"}}'
    response = await gateway.post("/webhooks/sentry", content=body, headers=signed_headers(body, "issue"))
    check(response, "deep nesting and huge strings")


@hyp()
@given(data=st.binary(min_size=1, max_size=512))
async def test_signed_non_utf8_bytes(gateway: httpx.AsyncClient, data: bytes) -> None:
    body = b'{"action":"created","data":"' + data + b'"}'
    response = await gateway.post("/webhooks/sentry", content=body, headers=signed_headers(body, "issue"))
    check(response, "non-UTF-8 bytes")


@hyp()
@given(
    signature=st.one_of(
        st.text(alphabet="0123456789abcdefABCDEF", min_size=0, max_size=130),
        st.text(max_size=70),
    ),
    case=st.sampled_from(["lower", "upper", "mixed"]),
)
async def test_signatures_of_wrong_length_or_case(gateway: httpx.AsyncClient, signature: str, case: str) -> None:
    body = wire_bytes(load_webhook("issue.created"))
    headers = signed_headers(body, "issue")
    good = headers["Sentry-Hook-Signature"]
    candidate = {"lower": signature, "upper": signature.upper(), "mixed": signature.swapcase()}[case]
    raw = "".join(ch for ch in candidate if ch.isprintable()).encode()  # any bytes, as sent
    response = await gateway.post(
        "/webhooks/sentry", content=body, headers={**headers, "Sentry-Hook-Signature": raw}  # type: ignore[dict-item]
    )
    check(response, "wrong signatures")
    if raw.strip().lower() != good.encode():
        assert response.status_code == 401


@hyp()
@given(content_type=st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/json; charset=latin-1"]))
async def test_wrong_content_types_are_judged_on_the_body(gateway: httpx.AsyncClient, content_type: str) -> None:
    body = wire_bytes(load_webhook("issue.created"))
    headers = signed_headers(body, "issue") | {"Content-Type": content_type}
    response = await gateway.post("/webhooks/sentry", content=body, headers=headers)
    check(response, "wrong content types")
    assert response.status_code == 202


async def test_duplicated_headers_use_the_first(gateway: httpx.AsyncClient) -> None:
    body = wire_bytes(load_webhook("issue.created"))
    headers = signed_headers(body, "issue")
    pairs = [*headers.items(), ("Sentry-Hook-Signature", sign(b"other", SECRET)),
             ("Sentry-Hook-Timestamp", str(int(time.time()) - 10_000))]
    response = await gateway.post("/webhooks/sentry", content=body, headers=pairs)
    check(response, "duplicated headers")
    assert response.status_code == 202


def test_zz_report_how_many_inputs_were_tried() -> None:
    total = sum(tried.values())
    print(f"\nwebhook fuzzing: {total} inputs tried: {json.dumps(tried)}")
    assert total >= EXAMPLES
