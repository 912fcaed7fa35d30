"""How a backtest's report is shown: a terminal table (rich) and one self-contained HTML page."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from jinja2 import Environment, Template, select_autoescape
from rich.console import Console
from rich.table import Table

from worker.backtest_run import BacktestState


def summary_table(state: BacktestState) -> Table:
    report = state.report
    title = (f"backtest {state.id}: {report.issues} issues, {report.matched} matched, "
             f"{report.unmatched} matched nothing, {report.conflicts} conflicts")
    table = Table(title=title, title_justify="left")
    for column in ("playbook", "mode", "matched", "would have"):
        table.add_column(column, justify="right" if column == "matched" else "left")
    for name, tally in report.playbooks.items():
        actions = ", ".join(f"{k} x{v}" for k, v in sorted(tally.actions.items(), key=lambda kv: -kv[1]))
        table.add_row(name, tally.mode, str(tally.matched), actions or "-")
    return table


def print_report(console: Console, state: BacktestState) -> None:
    report = state.report
    console.print(summary_table(state))
    if report.conflict_samples:
        conflicts = Table(title="conflicts (how they were settled)", title_justify="left")
        for column in ("issue", "kind", "wanted", "kept", "rule"):
            conflicts.add_column(column)
        for c in report.conflict_samples[:10]:
            wanted = "; ".join(f"{k}: {v}" for k, v in c.wanted.items())
            conflicts.add_row(c.issue_id, c.kind, wanted, c.winner, c.rule)
        console.print(conflicts)
    if report.unmatched_samples:
        shown = ", ".join(f"{i.id} ({i.title[:40]})" for i in report.unmatched_samples[:5])
        console.print(f"matched nothing: {report.unmatched} issues, e.g. {shown}", markup=False)
    for sample in report.comments[:2]:
        console.print(f"\n[bold]comment it would have written on {sample.issue.id}[/]")
        console.print(sample.body, markup=False)
    if report.fetch_errors:
        console.print(f"[yellow]{report.fetch_errors} latest events could not be fetched (analysed without)[/]")


@lru_cache(maxsize=1)
def _template() -> Template:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(files("cli").joinpath("templates/backtest.html.j2").read_text())


def render_html(state: BacktestState) -> str:
    """One page, no external resources: styles inline, every value escaped."""
    return _template().render(s=state, r=state.report)
