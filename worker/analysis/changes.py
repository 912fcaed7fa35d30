"""What changed: the release, its last deploy against when the issue (or its spike) began, the
suspect commit (Sentry's own, else the release's changed files that the stack runs through), and
the previous release as the rollback candidate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.sentry.models import CommitFile, Frame
from shared.sentry.stack import in_app_frames
from worker.analysis.base import AnalysisContext, Finding
from worker.analysis.impact import trend

DEPLOY_RELEVANT_S = 24 * 3600


def release_version(ctx: AnalysisContext) -> str | None:
    """The event's release (what runs now), else the release that first saw the issue."""
    if ctx.event is not None and ctx.event.release:
        return ctx.event.release
    return ctx.issue.first_release.version if ctx.issue.first_release else None


def _same_file(frame: Frame, changed: str) -> bool:
    changed = changed.lstrip("/")
    paths = [p.lstrip("/") for p in (frame.filename, frame.abs_path) if p]
    if frame.module and "." in frame.module and not frame.filename:
        paths.append(frame.module.replace(".", "/"))
    return any(p == changed or changed.endswith("/" + p) or p.endswith("/" + changed) for p in paths)


def suspect_commit(ctx: AnalysisContext) -> dict[str, Any] | None:
    """The first changed file (innermost in-app frame first) that the failing stack runs through."""
    files: list[CommitFile] = ctx.facts.commit_files or []
    exceptions = ctx.event.exceptions() if ctx.event else []
    if not files or not exceptions:
        return None
    frames = [f for f in in_app_frames(exceptions[-1]) if f.in_app]
    for position, frame in enumerate(frames):
        for changed in files:
            if _same_file(frame, changed.filename):
                author = changed.author.get("name") or changed.author.get("email") or "unknown author"
                return {"file": changed.filename, "author": author,
                        "message": (changed.commit_message or "").splitlines()[0] if changed.commit_message else "",
                        "frame": "the top in-app frame" if position == 0 else f"in-app frame {position + 1}",
                        "function": frame.function, "line": frame.lineno}
    return None


def _minutes_between(earlier: datetime, later: datetime) -> int:
    return int((later - earlier).total_seconds() // 60)


def what_changed(ctx: AnalysisContext) -> Finding | None:
    version = release_version(ctx)
    owners = [o.owner for o in ctx.issue.owners if o.type == "suspectCommit"]
    release = ctx.facts.release if ctx.facts.release and ctx.facts.release.version == version else None
    data: dict[str, Any] = {"release": version, "first_release": (
        ctx.issue.first_release.version if ctx.issue.first_release else None),
        "sentry_suspects": owners, "suspect": suspect_commit(ctx) if not owners else None,
        "deployed_to": None, "deployed_at": None, "released_at": None, "previous_release": None,
        "minutes_after_deploy": None, "deployed_minutes_before": None}
    if release is not None:
        deploy = release.last_deploy
        data |= {"deployed_to": deploy.environment if deploy else None,
                 "deployed_at": deploy.date_finished if deploy else None,
                 "released_at": release.date_released, "previous_release": release.previous_version}
        episode = trend(ctx)
        began = episode.started_at if episode else ctx.issue.first_seen
        deployed = deploy.date_finished if deploy else None
        if deployed and began and 0 <= (began - deployed).total_seconds() <= DEPLOY_RELEVANT_S:
            data["minutes_after_deploy"] = _minutes_between(deployed, began)
        elif deployed and began and began > deployed:
            data["deployed_minutes_before"] = _minutes_between(deployed, began)
    if not version and not owners:
        return None
    parts = [f"release {version}"] if version else []
    if data.get("minutes_after_deploy") is not None:
        parts.append(f"began {data['minutes_after_deploy']} min after its deploy to {data['deployed_to']}")
    if data["suspect"]:
        parts.append(f"suspect: {data['suspect']['file']} by {data['suspect']['author']}")
    elif owners:
        parts.append(f"Sentry's suspect commit: {', '.join(owners)}")
    return Finding(
        handler="changes", summary="; ".join(parts), data=data,
        source="event release / issue firstRelease; releases/{version}/ (lastDeploy, currentProjectMeta); "
               "issue owners (expand=owners) or releases/{version}/commitfiles/ x in-app frames",
    )
