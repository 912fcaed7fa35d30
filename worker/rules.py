"""The rules file: playbooks that match deliveries and declare what to do, plus handler options.

Validated at start-up; a bad file stops the worker with the file, line and field that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.api_actions import IgnoreSpec
from shared.settings import Settings
from worker.assignees import check_assignee


class RulesError(Exception):
    """The rules file is unreadable or invalid; the message names file, line and field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Match(Strict):
    """Every condition given must hold; lists mean any of."""

    resource: list[str] | None = None  # "issue" or "issue.created"
    project: list[str] | None = None
    environment: list[str] | None = None
    level: list[str] | None = None
    title: str | None = None  # regular expression
    culprit: str | None = None  # regular expression
    category: list[str] | None = None
    tags: dict[str, str] | None = None
    min_events: int | None = Field(None, ge=0)
    min_users: int | None = Field(None, ge=0)
    regression: bool | None = None

    @field_validator("resource", "project", "environment", "level", "category", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("title", "culprit")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


# One model for `ignore:` in the rules file and in the read API's action requests.
Ignore = IgnoreSpec


class Actions(Strict):
    comment: bool | str = False  # True: the default template; a string: an inline template
    resolve: bool = False
    resolve_in_next_release: bool = False
    unresolve: bool = False
    ignore: Ignore | None = None
    assign: str | None = None  # "user:<id>", "team:<id>", a username, an e-mail, or "owner"
    # Resolving, ignoring and archiving hide an issue: a rule must say it means to.
    allow_destructive: bool = False

    @field_validator("assign")
    @classmethod
    def _sentry_assignee(cls, value: str | None) -> str | None:
        return value if value in (None, "owner") else check_assignee(str(value))

    @property
    def destructive(self) -> bool:
        return self.resolve or self.resolve_in_next_release or self.ignore is not None

    @model_validator(mode="after")
    def _opted_in(self) -> Actions:
        if self.destructive and not self.allow_destructive:
            raise ValueError("resolve, resolve_in_next_release and ignore hide the issue: "
                             "set allow_destructive: true in this rule to opt in")
        return self


class Playbook(Strict):
    name: str
    when: Match = Field(default_factory=Match)
    actions: Actions
    # A destructive action that rests on the classification needs at least this confidence
    # (default: the file's min_confidence).
    min_confidence: float | None = Field(None, ge=0, le=1)
    # shadow: planned and recorded ("would have: resolve"), never executed; promote it to live
    # once the dashboard shows it does what was meant.
    mode: Literal["live", "shadow"] = "live"


class OwnershipRule(Strict):
    pattern: str
    owner: str  # as Sentry assigns: "team:<id>", "user:<id>", a username or an e-mail

    @field_validator("owner")
    @classmethod
    def _sentry_assignee(cls, value: str) -> str:
        return check_assignee(value)


class SignatureRule(Strict):
    category: str
    types: list[str] = Field(default_factory=list)
    messages: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)


class Thresholds(Strict):
    events: int = Field(100, ge=1)
    users: int = Field(10, ge=1)
    burst_window_minutes: int = Field(60, ge=1)
    spike_multiplier: float = Field(5.0, gt=1)  # the last hour at this many times the usual rate


class Rules(Strict):
    mode: Literal["first_match", "all_matches"] = "first_match"
    # The classification confidence below which no rule resolves, ignores or archives on it.
    min_confidence: float = Field(0.7, ge=0, le=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    ownership: list[OwnershipRule] = Field(default_factory=list)
    classification: list[SignatureRule] = Field(default_factory=list)
    comment_template: str | None = None  # path, relative to the rules file
    tag_keys: list[str] = Field(default_factory=list)  # tags whose spread the comment reports
    playbooks: list[Playbook] = Field(default_factory=list)
    template_text: str | None = Field(None, exclude=True)

    @classmethod
    def default(cls) -> Rules:
        """Without a rules file: comment on every delivery the worker acts on, change nothing."""
        return cls(playbooks=[Playbook(name="comment", actions=Actions(comment=True))])

    def options(self) -> dict[str, Any]:
        """What the handlers read from the rules (ctx.options)."""
        return {
            "thresholds": self.thresholds.model_dump(),
            "ownership": [r.model_dump() for r in self.ownership],
            "classification": [r.model_dump() for r in self.classification],
            "tag_keys": list(self.tag_keys),
        }


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def load_rules(path: Path) -> Rules:
    try:
        text = path.read_text()
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) or {}
    except OSError as exc:
        raise RulesError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise RulesError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = tuple(first["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(node, loc)
        raise RulesError(f"{path}:{line}: {field}: {first['msg']}") from None
    if rules.comment_template:
        template = (path.parent / rules.comment_template)
        try:
            rules.template_text = template.read_text()
        except OSError as exc:
            line = _line_of(node, ("comment_template",))
            raise RulesError(f"{path}:{line}: comment_template: cannot read {template}: {exc.strerror}") from None
    return rules


@dataclass(frozen=True, slots=True)
class RuleSets:
    """What the worker runs: the default rules (RESPONDER_RULES, or built in), and one set per
    organization from RESPONDER_RULES_DIR/<org-slug>.yaml."""

    default: Rules
    by_org: dict[str, Rules] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # organization -> the file it came from


def load_rule_sets(settings: Settings) -> RuleSets:
    """The one place that loads rules, for the worker and for `check-config` alike; the first bad
    file raises RulesError naming its file, line and field."""
    default = load_rules(settings.rules_path) if settings.rules_path else Rules.default()
    files = {p.stem: p for p in sorted(settings.rules_dir.glob("*.yaml"))} if settings.rules_dir else {}
    return RuleSets(default, {org: load_rules(path) for org, path in files.items()}, files)
