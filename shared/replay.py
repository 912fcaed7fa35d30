"""Replay a dead or failed job: the same delivery, queued again, its attempt count reset."""

from __future__ import annotations

from shared.jobs import REPLAYABLE_STATES, JobState
from shared.jobstore import JobStore
from shared.queue import DeliveryQueue


async def replay_job(store: JobStore, queue: DeliveryQueue, delivery_id: str) -> bool:
    """Queue a dead or failed delivery again; False when it is not in such a state (or gone)."""
    record = await store.get(delivery_id)
    if record is None or record.state not in REPLAYABLE_STATES or record.payload is None:
        return False
    await queue.requeue(delivery_id)
    await store.remove_dead(delivery_id)
    await store.transition(delivery_id, JobState.QUEUED, replays=record.replays + 1)
    return True


async def replay_dead(store: JobStore, queue: DeliveryQueue) -> int:
    replayed = 0
    for delivery_id in await store.dead_ids():
        replayed += await replay_job(store, queue, delivery_id)
    return replayed
