"""The dashboard in headless Chromium (Debian's `chromium` and `chromium-driver`), against a real
gateway process and Redis: a job appears after a webhook, its detail opens, a dead job replays."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from devtools.embedded_redis import EmbeddedRedis
from shared.jobs import JobState
from shared.jobstore import JobStore
from tests.helpers import ANSWER_TIMEOUT_S, PATIENT_ENQUEUE, SECRET, delivery
from tests.processes import gateway

DASHBOARD_TOKEN = "browser-test-dashboard-token-0123456789abcdef"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1366,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def gateway_env(redis_server: EmbeddedRedis, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": redis_server.url, "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"),
            "RESPONDER_LOG_LEVEL": "WARNING", **PATIENT_ENQUEUE, **extra}


def post(url: str, name: str) -> str:
    body, headers = delivery(name)
    response = httpx.post(url + "/webhooks/sentry", content=body, headers=headers, timeout=ANSWER_TIMEOUT_S)
    assert response.status_code == 202, response.text
    return headers["Request-ID"]


async def make_dead(redis_url: str, delivery_id: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        store = JobStore(client)
        await store.transition(delivery_id, JobState.DEAD, error="SentryServerError: 503 (injected)", attempts=5)
        await store.add_dead(delivery_id)
    finally:
        await client.aclose()


async def state_of(redis_url: str, delivery_id: str) -> JobState | None:
    client = Redis.from_url(redis_url)
    try:
        record = await JobStore(client).get(delivery_id)
        return record.state if record else None
    finally:
        await client.aclose()


@pytest.mark.timeout(90)
def test_dashboard_shows_a_job_its_detail_and_replays_a_dead_one(
    browser: webdriver.Chrome, redis_server: EmbeddedRedis, tmp_path: Path,
) -> None:
    import redis as sync_redis

    sync_redis.Redis.from_url(redis_server.url).flushdb()
    env = gateway_env(redis_server, tmp_path, RESPONDER_DASHBOARD_TOKEN=DASHBOARD_TOKEN)
    with gateway(env) as (_proc, url):
        browser.get(url + "/")
        wait = WebDriverWait(browser, 60)  # generous: the suite must pass on a busy machine
        # Signed out: the sign-in form (a POST: the token never appears in a URL).
        field = wait.until(ec.presence_of_element_located((By.ID, "token")))
        field.send_keys(DASHBOARD_TOKEN)
        browser.find_element(By.ID, "sign-in").click()
        assert DASHBOARD_TOKEN not in browser.current_url
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#counts .tile")))

        job_id = post(url, "issue.created")
        row = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f'#jobs tr[data-job-id="{job_id}"]')))
        assert "issue.created" in row.text and "queued" in row.text
        row.click()
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, '[data-testid="detail-id"]'), job_id))

        dead_id = post(url, "error.created")
        asyncio.run(make_dead(redis_server.url, dead_id))
        button = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f'[data-testid="replay-{dead_id}"]')))
        browser.save_screenshot(str(tmp_path / "dashboard-dead.png"))
        button.click()
        wait.until(ec.invisibility_of_element_located((By.CSS_SELECTOR, f'[data-testid="replay-{dead_id}"]')))
        assert asyncio.run(state_of(redis_server.url, dead_id)) is JobState.QUEUED
        wait.until(ec.text_to_be_present_in_element((By.ID, "dead"), "No dead jobs."))

        shot = tmp_path / "dashboard.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if os.environ.get("SCREENSHOT_DIR"):
            target = Path(os.environ["SCREENSHOT_DIR"])
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, target / "dashboard.png")


async def seed_trail(redis_url: str, delivery_id: str, issue_id: str) -> None:
    """What a worker leaves after a write-back with a shadow playbook: the record, the trail, counters."""
    from shared.audit import AuditEntry, append_audit
    from worker.actions import Plan, ShadowPlan, StatusAction
    from worker.trail import count_playbooks

    client = Redis.from_url(redis_url)
    try:
        web_url = f"https://sentry.io/organizations/demo-org/issues/{issue_id}/"
        await JobStore(client).transition(
            delivery_id, JobState.SUCCEEDED, web_url=web_url,
            writeback=[{"kind": "set_status", "ok": True, "skipped": False, "detail": "resolved"}],
            shadow=[{"playbook": "try-ignore", "would": ["ignore"]}],
        )
        await append_audit(client, issue_id, [
            AuditEntry(kind="delivery", summary="delivery received (issue.created)", delivery_id=delivery_id),
            AuditEntry(kind="action", summary="set_status: done (resolved)", delivery_id=delivery_id),
            AuditEntry(kind="shadow", summary="shadow playbook try-ignore would have: ignore", delivery_id=delivery_id),
        ])
        plan = Plan(actions=[StatusAction(status="resolved", rule="triage")], matched_rules=["triage"],
                    shadow=[ShadowPlan(playbook="try-ignore", would=["ignore"])])
        await count_playbooks(client, plan)
    finally:
        await client.aclose()


@pytest.mark.timeout(90)
def test_dashboard_opens_an_issues_audit_trail_from_a_job_and_shows_shadow_playbooks(
    browser: webdriver.Chrome, redis_server: EmbeddedRedis, tmp_path: Path,
) -> None:
    import redis as sync_redis

    sync_redis.Redis.from_url(redis_server.url).flushdb()
    env = gateway_env(redis_server, tmp_path)
    with gateway(env) as (_proc, url):
        job_id = post(url, "issue.created")
        asyncio.run(seed_trail(redis_server.url, job_id, "1170820242"))
        browser.get(url + "/")
        wait = WebDriverWait(browser, 15)
        row = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f'#jobs tr[data-job-id="{job_id}"]')))
        row.click()
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, '[data-testid="detail-shadow"]'), "try-ignore"))
        link = browser.find_element(By.CSS_SELECTOR, '[data-testid="sentry-link"]')
        assert link.get_attribute("href") == "https://sentry.io/organizations/demo-org/issues/1170820242/"

        browser.find_element(By.CSS_SELECTOR, '[data-testid="open-audit"]').click()
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="audit"]')))
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, '[data-testid="audit-entries"]'),
                                                    "set_status: done (resolved)"))
        kinds = [tr.get_attribute("data-kind") for tr in
                 browser.find_elements(By.CSS_SELECTOR, '[data-testid="audit-entries"] tr')]
        assert kinds == ["delivery", "action", "shadow"]
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, '[data-testid="playbooks"]'),
                                                    "would have: ignore \u00d71"))

        # No state was recorded before that write (it was seeded, not made): undo says so, touches nothing.
        browser.find_element(By.CSS_SELECTOR, '[data-testid="detail-undo"]').click()
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, '[data-testid="undo-result"]'), "not undone"))
        shot = tmp_path / "audit.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if os.environ.get("SCREENSHOT_DIR"):
            shutil.copy(shot, Path(os.environ["SCREENSHOT_DIR"]) / "audit.png")
