"""Status changes as Sentry validates and stores them (src/sentry/api/helpers/group_index/update.py).

Sentry never stores `resolvedInNextRelease`: it answers and stores `status: "resolved"` with
`statusDetails.inNextRelease: true` (and refuses it on a project without releases); resolving
clears the substatus, ignoring sets an `archived_*` one, unresolving by a person sets `ongoing`.
Unknown `statusDetails` keys are refused here, where Sentry drops them silently: a misspelt key
is a bug in the caller either way, and a silent drop would hide it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from standin.errors import Invalid, ServerError
from standin.state import StandinState

STATUSES = ("resolved", "resolvedInNextRelease", "unresolved", "ignored")
SUBSTATUSES = ("archived_until_escalating", "archived_until_condition_met", "archived_forever",
               "escalating", "ongoing", "regressed", "new")
IGNORE_KEYS = ("ignoreDuration", "ignoreCount", "ignoreWindow", "ignoreUserCount", "ignoreUserWindow")
DETAIL_KEYS = ("inRelease", "inNextRelease", "inUpcomingRelease", "inCommit", *IGNORE_KEYS)
# Sentry's serializer (src/sentry/api/helpers/group_index/validators/status_details.py) bounds only
# the windows (400 in DRF's words beyond a week). Counts and the duration are plain IntegerFields:
# a count above 2**31 - 1 fails in GroupSnooze's Postgres integer column, and `update_groups`
# computes `now + timedelta(minutes=ignoreDuration)`, which overflows past datetime's year 9999
# (about 4.2e9 minutes from 2026); both are 500s, answered here as Sentry answers them.
MAX_WINDOW_MIN = 7 * 24 * 60
MAX_INT = 2**31 - 1
NO_RELEASE = "No release data present in the system to form a basis for 'Next Release'"


def _choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise Invalid.on(name, f'"{value}" is not a valid choice.')
    return value


def _details_error(key: str, message: str) -> Invalid:
    return Invalid({"statusDetails": {key: [message]}})


def _ignore_values(details: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in IGNORE_KEYS:
        if details.get(key) is None:
            continue
        value = details[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise _details_error(key, "A valid integer is required.")
        if value <= 0:
            raise _details_error(key, "Ensure this value is greater than or equal to 1.")
        if key.endswith("Window") and value > MAX_WINDOW_MIN:
            raise _details_error(key, f"Ensure this value is less than or equal to {MAX_WINDOW_MIN}.")
        out[key] = value
    return out


def _snooze_fits(ignore: dict[str, int]) -> None:
    """What Sentry's snooze can store, checked where Sentry fails: after the serializer."""
    if any(ignore.get(key, 0) > MAX_INT for key in ("ignoreCount", "ignoreUserCount")):
        raise ServerError("integer out of range")  # Postgres: NumericValueOutOfRange
    if "ignoreDuration" in ignore:
        try:
            datetime.now(UTC) + timedelta(minutes=ignore["ignoreDuration"])
        except OverflowError:
            raise ServerError("date value out of range") from None


def _releases(state: StandinState, issue: dict[str, Any]) -> list[str]:
    """The project's releases: the organization seed's, and any full release objects the seed
    holds (`extra["releases"]`, by version) that name the project."""
    slug = issue.get("project", {}).get("slug")
    project = state.project(slug)
    versions = list(project["releases"]) if project else []
    for version, release in state.extra.get("releases", {}).items():
        if version not in versions and any(p.get("slug") == slug for p in release.get("projects", [])):
            versions.append(version)
    return versions


def _resolution(state: StandinState, issue: dict[str, Any], status: str, details: dict[str, Any]) -> dict[str, Any]:
    releases = _releases(state, issue)
    if status == "resolvedInNextRelease" or details.get("inNextRelease"):
        if not releases:
            raise _details_error("inNextRelease", NO_RELEASE)
        return {"inNextRelease": True}
    version = details.get("inRelease")
    if version is not None:
        if version == "latest":
            if not releases:
                raise _details_error("inRelease", NO_RELEASE)
            return {"inRelease": releases[-1]}
        if version not in releases:
            raise _details_error("inRelease", "Unable to find a release with the given version.")
        return {"inRelease": version}
    return {}


def _actor(state: StandinState, user_id: str) -> dict[str, Any]:
    user = state.user(user_id) or {"id": user_id, "name": "", "email": ""}
    return {"id": user["id"], "name": user["name"], "username": user.get("username", ""), "email": user["email"]}


def status_change(state: StandinState, issue: dict[str, Any], body: dict[str, Any], user_id: str) -> dict[str, Any]:
    """Validate a PUT's status fields; return the fields to store, which are also Sentry's answer."""
    status = _choice("status", body["status"], STATUSES)
    substatus = _choice("substatus", body["substatus"], SUBSTATUSES) if body.get("substatus") else None
    details = body.get("statusDetails") or {}
    if not isinstance(details, dict):
        raise Invalid({"statusDetails": {"non_field_errors": ["Invalid data. Expected a dictionary."]}})
    unknown = sorted(set(details) - set(DETAIL_KEYS))
    if unknown:
        raise _details_error(unknown[0], "Unknown field.")
    ignore = _ignore_values({**{k: body[k] for k in IGNORE_KEYS if k in body}, **details})
    actor = _actor(state, user_id)
    if status in ("resolved", "resolvedInNextRelease"):
        resolution = _resolution(state, issue, status, details)
        return {"status": "resolved", "substatus": None, "inbox": None,
                "statusDetails": resolution | ({"actor": actor} if resolution else {})}
    if status == "ignored":
        if substatus is not None and not substatus.startswith("archived_"):
            raise Invalid.on("substatus", "Invalid substatus for an ignored issue.")
        _snooze_fits(ignore)
        archived = substatus or ("archived_until_condition_met" if ignore else "archived_forever")
        return {"status": "ignored", "substatus": archived, "statusDetails": ignore | {"actor": actor}}
    if substatus is not None and substatus.startswith("archived_"):
        raise Invalid.on("substatus", "Invalid substatus for an unresolved issue.")
    return {"status": "unresolved", "substatus": substatus or "ongoing", "statusDetails": {}}
