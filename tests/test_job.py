"""worker/job.py pieces that need Redis behaviour but no server: fakeredis, here a server that is down."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import fakeredis
from structlog.testing import capture_logs

from shared.jobs import Delivery, JobState
from worker.deps import WorkerDeps
from worker.job import Outcome, leave_trail


async def test_a_redis_failure_after_the_job_is_only_logged() -> None:
    """The write-back is done when the trail is written: losing Redis then must not fail the job."""
    server = fakeredis.FakeServer()
    server.connected = False  # every command is refused, as by a Redis that went away
    deps = cast(WorkerDeps, SimpleNamespace(redis=fakeredis.FakeAsyncRedis(server=server), dry_run=False))
    delivery = Delivery(id="d1", resource="issue", action="created", received_at=0.0, issue_id="42")
    with capture_logs() as events:
        await leave_trail(deps, delivery, Outcome(JobState.SUCCEEDED))
    assert [e["event"] for e in events] == ["audit_trail_failed"]
    assert events[0]["error"] == "ConnectionError"
