"""The stand-in's organization issue listing refuses what Sentry refuses and pages as Sentry does."""

from __future__ import annotations

import httpx
import pytest

from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryClientError
from standin.app import DEMO_TOKEN, create_standin


@pytest.fixture
def transport() -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_standin())


async def test_many_generated_issues_come_back_page_by_page_without_repeats(transport: httpx.ASGITransport) -> None:
    async with httpx.AsyncClient(transport=transport, base_url="http://standin") as http:
        assert (await http.post("/_standin/generate", json={"count": 250})).status_code == 200
    async with SentryClient("http://standin/api/0/", DEMO_TOKEN, "demo-org", transport=transport) as sentry:
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await sentry.list_org_issues(query="", stats_period="30d", cursor=cursor, limit=100)
            pages += 1
            seen += [i.id for i in page.items]
            assert page.hits is not None and page.hits >= 250
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert pages == 3 and len(seen) == len(set(seen)) >= 250
        unresolved = await sentry.list_org_issues(projects=["web"], stats_period="30d", limit=100)
        assert unresolved.items and all(i.project.slug == "web" and i.status == "unresolved" for i in unresolved.items)


@pytest.mark.parametrize("params", [{"limit": "101"}, {"query": "is:sleeping"}, {"statsPeriod": "fortnight"},
                                    {"cursor": "garbage"}])
async def test_bad_listing_parameters_are_a_400(transport: httpx.ASGITransport, params: dict[str, str]) -> None:
    async with httpx.AsyncClient(transport=transport, base_url="http://standin",
                                 headers={"Authorization": f"Bearer {DEMO_TOKEN}"}) as http:
        response = await http.get("/api/0/organizations/demo-org/issues/", params=params)
    assert response.status_code == 400 and "detail" in response.json()


async def test_the_client_raises_a_client_error_for_a_refused_listing(transport: httpx.ASGITransport) -> None:
    async with SentryClient("http://standin/api/0/", DEMO_TOKEN, "demo-org", transport=transport) as sentry:
        with pytest.raises(SentryClientError):
            await sentry.list_org_issues(query="is:sleeping")
