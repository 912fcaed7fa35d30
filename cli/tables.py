"""Rich tables the commands print: one jobs table for `jobs` and the `dev` demo alike."""

from __future__ import annotations

from rich.table import Table

from shared.jobs import JobRecord


def jobs_table(records: list[JobRecord], title: str = "jobs") -> Table:
    table = Table(title=title, expand=False)
    table.add_column("delivery", no_wrap=True, max_width=8)
    table.add_column("resource", no_wrap=True)
    table.add_column("issue", no_wrap=True)
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("took", no_wrap=True, justify="right")
    table.add_column("plan / note", no_wrap=True, overflow="ellipsis", max_width=40)
    colours = {"succeeded": "green", "failed": "red", "dead": "red", "running": "yellow",
               "retrying": "yellow", "queued": "cyan"}
    for r in records:
        took = f"{r.duration_s:.2f}s" if r.duration_s is not None else ""
        note = r.error or r.reason or ", ".join(a.get("kind", "") for a in r.plan)
        colour = colours.get(r.state.value, "dim")
        table.add_row(r.id[:8], f"{r.resource}.{r.action}", r.issue_id or "",
                      f"[{colour}]{r.state.value}[/]", took, note or "")
    return table
