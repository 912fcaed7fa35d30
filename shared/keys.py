"""Every Redis key the responder writes, in one place, so the layout can be read at a glance."""

from __future__ import annotations

PREFIX = "responder:"

JOBS_BY_TIME = PREFIX + "jobs"  # zset: delivery id -> received at (s)
DEAD_LETTER = PREFIX + "dead"  # zset: delivery id -> died at (s)
WORKER_HEARTBEATS = PREFIX + "workers"  # hash: worker name -> last heartbeat (s)
WORKER_REDIS_OUTAGES = PREFIX + "workers:redis_outages"  # hash: worker name -> JSON of its last Redis outage
INSTALLATIONS_BY_ORG = PREFIX + "installations"  # hash: organization slug -> installation uuid
REPLICATION_MARK = PREFIX + "replication-mark"  # counter: a write WAIT can count (shared/queue.py)
ISSUE = PREFIX + "issue:"  # per-issue keys below; the intake script builds them the same way


def job(delivery_id: str) -> str:
    """Hash: the status record of one delivery."""
    return f"{PREFIX}job:{delivery_id}"


def jobs_in_state(state: str) -> str:
    """Zset: delivery ids in a state -> time they entered it (s)."""
    return f"{PREFIX}jobs:state:{state}"


def seen(delivery_id: str) -> str:
    """String with expiry: this Request-ID was already taken (de-duplication)."""
    return f"{PREFIX}seen:{delivery_id}"


def seen_body(body_sha256: str) -> str:
    """String with expiry: a delivery with this signed body was already taken (replays)."""
    return f"{PREFIX}seen:body:{body_sha256}"


def issue_active(issue_id: str, kind: str) -> str:
    """String: the delivery whose job for this issue and kind is queued or running (coalescing)."""
    return f"{ISSUE}{issue_id}:{kind}:active"


def issue_quiet(issue_id: str, kind: str) -> str:
    """String with expiry: the last finished job for this issue and kind, during the quiet window."""
    return f"{ISSUE}{issue_id}:{kind}:quiet"


def issue_deliveries(issue_id: str) -> str:
    """Counter: every actionable delivery seen for this issue, coalesced ones included."""
    return f"{ISSUE}{issue_id}:deliveries"


def cached(kind: str, ident: str) -> str:
    """String with expiry: a Sentry resource a job fetched (issue, latest event)."""
    return f"{PREFIX}cache:{kind}:{ident}"


def issue_lock(issue_id: str) -> str:
    return f"{PREFIX}lock:issue:{issue_id}"


def issue_comment(issue_id: str) -> str:
    """Hash: the responder's comment on an issue (note id, deliveries covered)."""
    return f"{PREFIX}comment:{issue_id}"


def own_write(issue_id: str) -> str:
    """String with expiry: the responder just changed this issue (loop guard)."""
    return f"{PREFIX}ownwrite:{issue_id}"


def rate_limit(scope: str) -> str:
    return f"{PREFIX}ratelimit:{scope}"


def installation(uuid: str) -> str:
    """Hash: a public integration's installation: organization, installed at, sealed tokens."""
    return f"{PREFIX}installation:{uuid}"


def installation_removed(uuid: str) -> str:
    """String with expiry: this installation was removed; its queued jobs are skipped."""
    return f"{PREFIX}installation:{uuid}:removed"


def installation_lock(uuid: str) -> str:
    """Lock: one worker at a time refreshes an installation's tokens."""
    return f"{PREFIX}lock:installation:{uuid}"


# --- trust: audit trail, undo, playbook statistics, backtests (issue 22)

PLAYBOOKS = PREFIX + "playbooks"  # zset: playbook name -> last fired at (s)
BACKTESTS = PREFIX + "backtests"  # zset: backtest id -> last updated at (s)


def issue_audit(issue_id: str) -> str:
    """Zset: the issue's audit trail, JSON entries -> when (s): deliveries, analyses, actions, undos."""
    return f"{ISSUE}{issue_id}:audit"


def undo(write_id: str) -> str:
    """String (JSON): the issue's state before and after an automated write (a job's, or an API action's)."""
    return f"{PREFIX}undo:{write_id}"


def undo_claim(write_id: str) -> str:
    """String with expiry: an undo of this write is under way (so two cannot run at once)."""
    return f"{PREFIX}undo:{write_id}:claim"


def playbook_stats(name: str) -> str:
    """Hash: how often a playbook fired, its mode, and counts of what it did or would have done."""
    return f"{PREFIX}playbook:{name}"


def backtest(backtest_id: str) -> str:
    """Hash: a backtest's parameters, last cursor, state and report so far (resumable)."""
    return f"{PREFIX}backtest:{backtest_id}"


def backtest_cache(kind: str, ident: str) -> str:
    """String with expiry: what a backtest fetched (latest event), reused when it resumes or reruns."""
    return f"{PREFIX}backtest-cache:{kind}:{ident}"


def issue_root_cause(issue_id: str) -> str:
    """String (JSON): Sentry's root cause (Seer) for an issue, from seer.root_cause_completed."""
    return f"{ISSUE}{issue_id}:root_cause"
