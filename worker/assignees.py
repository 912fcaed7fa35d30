"""Moved to shared/assignees.py: the gateway's read/act API checks assignees the same way."""

from __future__ import annotations

from shared.assignees import check_assignee as check_assignee
