"""Event data is untrusted: anyone with a project's public DSN writes it. No text in it becomes a
link, an image, HTML or table structure in a comment, and no secret planted in any of its fields
reaches a comment, a log line, a job record or an ops API answer.

Comments are read here as a Markdown viewer reads them (markdown-it-py, GitHub-flavoured: tables,
strikethrough, raw HTML on, bare URLs linked), and judged by what that viewer makes of them.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import string
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from redis.asyncio import Redis
from structlog.testing import capture_logs

from shared import keys
from shared.jobs import JobState
from shared.jobstore import JobStore
from shared.sentry.models import Event, Issue
from shared.sentry.redact import redact, redact_json
from shared.settings import Settings
from tests.analysis_events import NOW, context_for
from tests.helpers import TOKEN, load_webhook, run_burst_worker, signed_headers, wire_bytes
from tests.processes import worker
from tests.sentry_fake import FakeSentry
from tests.test_chaos import Stack, stack  # noqa: F401 (the running stack, a fixture)
from worker.analysis.base import AnalysisContext, Finding
from worker.analysis.registry import default_registry, run_handlers
from worker.comment import render_comment
from worker.markdown import code, escape_md, md, redact_markdown
from worker.plan import build_plan
from worker.rules import Rules

ISSUE_ID = "1170820242"
# No "explain" phase: it traces every line, which on Python 3.11 makes a failure take minutes to report.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
OPS_TOKEN = "comment-security-ops-token-0123456789abcdef"

# ---------------------------------------------------------------------------------------------
# Reading a comment as a viewer does


def viewer() -> MarkdownIt:
    """GitHub-flavoured reading: tables, strikethrough, raw HTML, and URLs made links on their own
    (schema links and `//` ones; bare domains are not linked by GitHub or Sentry either)."""
    parser = MarkdownIt("gfm-like", {"html": True, "linkify": True})
    parser.linkify.set({"fuzzy_link": False})
    return parser


VIEWER = viewer()
# What only event text could have made: the templates have no links, images, HTML, headings,
# quotes, lists or strike-through of their own.
FORBIDDEN = {
    "link_open", "image", "html_inline", "html_block", "heading_open", "blockquote_open",
    "bullet_list_open", "ordered_list_open", "s_open", "fence", "code_block", "lheading_open",
}


def markup_and_text(comment: str) -> tuple[set[str], list[str]]:
    """The token types a viewer makes of `comment`, and the visible text of each inline run."""
    kinds: set[str] = set()
    texts: list[str] = []
    for token in VIEWER.parse(comment):
        kinds.add(token.type)
        if token.type == "inline":
            children = token.children or []
            kinds |= {c.type for c in children}
            texts.append("".join(c.content if c.type in ("text", "code_inline") else " " for c in children))
    return kinds, texts


def assert_inert(comment: str, shown: list[str] = ()) -> None:  # type: ignore[assignment]
    """Nothing in `comment` is live markup, and each of `shown` is seen as the very text it was."""
    kinds, texts = markup_and_text(comment)
    assert not kinds & FORBIDDEN, (kinds & FORBIDDEN, comment)
    visible = "\n".join(texts)
    for text in shown:
        one_line = " ".join(text.split())
        assert one_line in visible or one_line.replace("`", "'") in visible, (one_line, comment)


# ---------------------------------------------------------------------------------------------
# (a) hostile text in every place a comment quotes

LINK = "[Reset your password](https://evil.example/login) ![t](https://evil.example/px.gif)"
HOSTILE = [
    LINK,
    "<img src=x onerror=alert(1)>",
    "<script>alert(document.cookie)</script>",
    "a | b || c `tick` ``x``",
    "# Heading **bold** __bold__ *em* _em_ ~~gone~~",
    "visit https://evil.example/bare or www.evil.example or //evil.example/x",
    "<https://evil.example/angle> [ref][1] [1]: https://evil.example/def",
    "&lt;b&gt; &#91;x&#93;(https://evil.example)",
    "> quoted\n- item\n1. first\n---",
    "ends in a backslash \\",
]


def hostile_event(text: str) -> Event:
    """Every place a comment quotes holds `text`: exception and cause types (shaped to be quoted as
    classification evidence), message, module and file names, functions, source line, culprit."""
    frames = [
        {"filename": f"app/{text}.py", "module": f"requests {text}", "function": text, "lineNo": 3,
         "inApp": True, "context": [[3, text]]},
        {"filename": f"lib/{text}.py", "module": f"urllib3 {text}", "function": text, "lineNo": 9,
         "inApp": False},
    ]
    return Event.model_validate({
        "eventID": "e" * 32, "groupID": "77", "title": text, "culprit": text, "platform": "python",
        "message": text,
        "entries": [{"type": "exception", "data": {"values": [
            {"type": f"{text}.ConnectionError", "value": text, "stacktrace": {"frames": []}},
            {"type": f"{text}.TimeoutError", "value": text, "module": text,
             "stacktrace": {"frames": frames}, "mechanism": {"type": "generic", "handled": False}},
        ]}}],
        "tags": [{"key": "environment", "value": text}, {"key": text, "value": text}],
    })


def hostile_context(text: str) -> AnalysisContext:
    ctx = context_for(hostile_event(text), title=text, culprit=text)
    # A rules file whose signature quotes the whole message as evidence.
    options = ctx.options | {"classification": [{"category": "network/timeout", "messages": [".+"]}]}
    return AnalysisContext(ctx.resource, ctx.action, ctx.issue, ctx.event, NOW, options)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_event_text_renders_as_text_in_the_default_comment(text: str) -> None:
    ctx = hostile_context(text)
    findings = [*run_handlers(default_registry(load_plugins=False), ctx),
                Finding(handler="plugin", summary=text)]  # a plug-in quoting event text
    plan = build_plan(ctx, findings, Rules.default())
    comment = plan.actions[0].body  # type: ignore[union-attr]
    evidence = next(f for f in findings if f.handler == "classification").data["evidence"]
    assert any(text.split()[0] in e for e in evidence)  # the evidence quotes the hostile text
    assert_inert(comment, [f"{text}.TimeoutError"])
    direct = render_comment(ctx, findings, [text], [])  # rule names too
    assert_inert(direct, [f"{text}.TimeoutError", text])


# A template printing event text with no filter at all.
UNFILTERED = (
    "**Title:** {{ issue.title }}\n\n| tag | value |\n|---|---|\n"
    "{% for t in event.tags %}| {{ t.key }} | {{ t.value }} |\n{% endfor %}\n"
    "Culprit {{ issue.culprit }}, message {{ event.message }}, "
    "evidence {{ findings.classification.data.evidence | join('; ') }}, "
    "frames {% for e in event.exceptions() %}{% for f in e.frames %}{{ f.filename }} {{ f.module }} {% endfor %}{% endfor %}"
)


@pytest.mark.parametrize("text", HOSTILE)
def test_a_template_printing_event_text_without_filters_escapes_it(text: str) -> None:
    """Escaping is the template's default: a finding added by anyone is safe without a filter."""
    ctx = hostile_context(text)
    findings = run_handlers(default_registry(load_plugins=False), ctx)
    comment = render_comment(ctx, findings, [], [], UNFILTERED)
    assert_inert(comment, [text, f"app/{text}.py", f"requests {text}"])
    kinds, texts = markup_and_text(comment)
    rows = [t for t in texts if t]
    assert "table_open" in kinds and rows.count(" ".join(text.split())) >= 3  # whole cells: no pipe split one


MARKUP_PIECES = [*"[]()!<>`*_~|#&@:/\\.-+= \n\"';aAhHtTpPsSwW0123", "https://", "www.", "<img src=x>",
                 "javascript:", "](", "![", "```", "&lt;", "&#91;", "1. ", "- "]
markup_soup = st.lists(st.sampled_from(MARKUP_PIECES), min_size=1, max_size=40).map("".join)


@settings(max_examples=150, deadline=None, phases=PHASES, suppress_health_check=[HealthCheck.too_slow])
@given(text=markup_soup)
def test_random_markup_in_every_quoted_field_stays_text(text: str) -> None:
    ctx = hostile_context(text)
    findings = [*run_handlers(default_registry(load_plugins=False), ctx), Finding(handler="plugin", summary=text)]
    assert_inert(build_plan(ctx, findings, Rules.default()).actions[0].body)  # type: ignore[union-attr]
    assert_inert(render_comment(ctx, findings, [text], [], UNFILTERED))


def test_escape_md_keeps_the_text_and_kills_the_markup() -> None:
    for text in HOSTILE:
        assert_inert(escape_md(" ".join(text.split())), [text])
    assert md(LINK) == (
        "\\[Reset your password\\]\\(https\\:/\\/evil.example/login\\) "
        "\\!\\[t\\]\\(https\\:/\\/evil.example/px.gif\\)"
    )
    assert md("1. one") == "1\\. one" and md("- x") == "\\- x" and md("0.2 -5") == "0.2 -5"
    assert code("a|b`c") == "`a\\|b'c`"


def test_redaction_runs_before_escaping() -> None:
    """The finding of issue 18: `ghp_…` escaped first became `ghp\\_…`, which redaction missed."""
    for secret in ("ghp_" + "A1b2" * 9, "sntrys_eyJpYXQiOjE3MDAwMDAwMDAuMCJ9_abc_def0123456789",
                   "sk_live_" + "x1" * 12, "Bearer ab_cd_ef_gh_ij", "api_key=ab_cd_ef", "session_id=s_e_s_s",
                   "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJfXyJ9.ab_cd-ef_gh"):
        text = md(f"failed: {secret} (retry)")
        assert "\\[redacted\\]" in text
        for part in secret.replace("Bearer ", "").split("=")[-1:]:
            assert part not in text and part.replace("_", "\\_") not in text


def test_source_lines_about_passwords_reach_the_comment_whole() -> None:
    """A top frame's source line is shown through `code`: code that names a password is no secret,
    a password in words is."""
    for line in ("if password is None:", "while password is True:", "if user.password is old_password:",
                 "verify(sig=signature_bytes_here_long)", "pin: requests==2.31.0"):
        assert code(line) == f"`{line}`"
        assert redact_markdown(md(line)) == md(line)
    assert "hunter22" not in code("password is: hunter22") + md("password is: hunter22")


def test_classification_evidence_quotes_no_piece_of_a_secret() -> None:
    """Evidence quotes the part of a message a pattern matched: cut from its key, a secret's value
    would no longer look like one, so messages are redacted before they are matched."""
    event = Event.model_validate({"title": "x", "entries": [{"type": "exception", "data": {"values": [
        {"type": "PermissionError", "value": 'login failed: {"api_key": "Invalid Token Zq81"}'}]}}]})
    ctx = context_for(event)
    findings = run_handlers(default_registry(load_plugins=False), ctx)
    comment = build_plan(ctx, findings, Rules.default()).actions[0].body  # type: ignore[union-attr]
    evidence = next(f for f in findings if f.handler == "classification").data["evidence"]
    assert evidence == ["exception type PermissionError"]  # not 'message says "Invalid Token"'
    assert "Zq81" not in comment and "Invalid Token" not in comment


# ---------------------------------------------------------------------------------------------
# (b) secrets of every shape planted in every field

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "_-"
SAFE = ALNUM + "-_.!#$%^+/"  # what a bare value may hold (a separator ends it)
QUOTED = SAFE + " ,;&*()"


def _text(alphabet: str, low: int, high: int | None = None) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=low, max_size=high or low)


def _token(prefix: str, alphabet: str, low: int, high: int | None = None) -> st.SearchStrategy[tuple[str, str]]:
    return _text(alphabet, low, high).map(lambda body: (prefix + body, prefix + body))


def _pem(kind: str, body: str) -> tuple[str, str]:
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{lines}\n-----END {kind}PRIVATE KEY-----", body


PAIR_FORMS = ("{k}={v}", "{k}: {v}", "{k} = {v}", '"{k}": "{v}"', "'{k}': '{v}'", '\\"{k}\\": \\"{v}\\"',
              "?{k}={v}&page=2", '["{k}", "{v}"]', "{k} => {v}")
PAIR_KEYS = ("api_key", "apiKey", "session_id", "sessionid", "password", "passwd", "DB_PASSWORD", "client_secret",
             "auth_token", "access_token", "secret", "private_key", "X-Api-Key", "Authorization", "Cookie")


def _pair(key: str, form: str, value: str) -> tuple[str, str]:
    return form.format(k=key, v=value), value


# Each shape: (text to plant, the part that must never be seen).
SHAPES: dict[str, st.SearchStrategy[tuple[str, str]]] = {
    "github classic": st.sampled_from(["ghp_", "gho_", "ghs_", "ghu_", "ghr_"]).flatmap(lambda p: _token(p, ALNUM, 36)),
    "github fine-grained": st.tuples(_text(ALNUM, 22), _text(ALNUM, 59)).map(
        lambda t: ("github_pat_" + t[0] + "_" + t[1],) * 2),
    "sentry org token": st.tuples(_text(B64, 40, 120), _text(B64URL, 20, 43)).map(
        lambda t: ("sntrys_" + t[0] + "_" + t[1],) * 2),
    "sentry user token": _token("sntryu_", "0123456789abcdef", 64),
    "stripe": st.sampled_from(["sk_live_", "sk_test_", "rk_live_"]).flatmap(lambda p: _token(p, ALNUM, 24, 99)),
    "openai": st.sampled_from(["sk-proj-", "sk-"]).flatmap(lambda p: _token(p, B64URL if "proj" in p else ALNUM, 48, 120)),
    "gitlab": _token("glpat-", B64URL, 20),
    "slack": st.tuples(st.sampled_from("abprs"), _text(string.digits, 10, 13), _text(ALNUM, 24)).map(
        lambda t: (f"xox{t[0]}-{t[1]}-{t[1]}-{t[2]}",) * 2),
    "google": _token("AIza", B64URL, 35),
    "aws access key": st.sampled_from(["AKIA", "ASIA"]).flatmap(
        lambda p: _token(p, string.ascii_uppercase + string.digits, 16)),
    "aws secret key": st.tuples(st.sampled_from(["aws_secret_access_key={v}", "AWS_SECRET_ACCESS_KEY: {v}",
                                                 '"SecretAccessKey": "{v}"']), _text(B64, 40)).map(
        lambda t: (t[0].format(v=t[1]), t[1])),
    "jwt": st.tuples(_text(B64URL, 10, 40), _text(B64URL, 10, 80), _text(B64URL, 0, 43)).map(
        lambda t: (f"eyJ{t[0]}.eyJ{t[1]}.{t[2]}",) * 2),
    "bearer": st.tuples(st.sampled_from(["Bearer ", "bearer ", "Authorization: Bearer ", "Basic "]),
                        _text(ALNUM + "-._~+/", 20, 80)).map(lambda t: (t[0] + t[1], t[1])),
    "private key": st.tuples(st.sampled_from(["RSA ", "EC ", "", "OPENSSH ", "ENCRYPTED "]), _text(B64, 64, 300)).map(
        lambda t: _pem(*t)),
    "url credentials": st.tuples(st.sampled_from(["postgres", "redis", "https", "amqp"]), _text(ALNUM, 3, 10),
                                 _text(ALNUM + "-._~!$*", 12, 40)).map(
        lambda t: (f"{t[0]}://{t[1]}:{t[2]}@db.internal:5432/app", t[2])),
    "key/value": st.tuples(st.sampled_from(PAIR_KEYS), st.sampled_from(PAIR_FORMS), _text(SAFE, 12, 40)).map(
        lambda t: _pair(*t)),
    "key/value quoted": st.tuples(st.sampled_from(PAIR_KEYS), st.sampled_from(PAIR_FORMS[3:6]),
                                  _text(QUOTED, 12, 40).filter(lambda v: v.strip() == v)).map(lambda t: _pair(*t)),
    "azure sas": st.tuples(_text(B64, 43), st.sampled_from(["%3D", "="])).map(
        lambda t: (f"https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sig={t[0]}{t[1]}&se=2026", t[0])),
    "twilio": st.sampled_from(["SK", "AC"]).flatmap(lambda p: _token(p, "0123456789abcdef", 32)),
    "square": st.sampled_from([("sq0atp-", 22), ("sq0csp-", 43)]).flatmap(lambda t: _token(t[0], B64URL, t[1])),
    "linear": _token("lin_api_", ALNUM, 40),
    "databricks": _token("dapi", "0123456789abcdef", 32),
    "google oauth": st.sampled_from(["ya29.", "1//0"]).flatmap(lambda p: _token(p, B64URL, 40, 160)),
    "facebook": st.sampled_from(["EAAB", "EAAG", "EAA"]).flatmap(lambda p: _token(p, ALNUM, 40, 200)),
    "short key names": st.tuples(st.sampled_from(["/maps?key={v}", "?key={v}&page=2"]),
                                 _text(SAFE, 12, 40)).map(lambda t: (t[0].format(v=t[1]), t[1])),
    # an OTP or PIN is digits (redact.py keeps `PIN: required`)
    "otp and pin": st.tuples(st.sampled_from(["otp={v}", "OTP: {v}", "pin: {v}", "pin={v}", '"pin": "{v}"',
                                              '"otp": "{v}"']),
                             _text(string.digits, 4, 12)).map(lambda t: (t[0].format(v=t[1]), t[1])),
    "password in words": st.tuples(st.sampled_from(["password is {v}", "the Password was {v}", 'password is "{v}"']),
                                   _text(SAFE, 11, 39), st.sampled_from(string.digits)).map(
        lambda t: (t[0].format(v=t[1] + t[2]), t[1] + t[2])),
}
PREFIXES = ("", "failed with ", "value=", "(", '"', "url ", "[", "'", "<", "-> ", "token: ")
SUFFIXES = ("", " at line 3", ")", '"', ".", ",", ";", " and more", ">", "\n")

planted = st.tuples(st.sampled_from(PREFIXES), st.sampled_from(sorted(SHAPES)).flatmap(lambda k: SHAPES[k]),
                    st.sampled_from(SUFFIXES)).map(lambda t: (t[0] + t[1][0] + t[2], t[1][1]))
FIELDS = ("message", "exception value", "exception type", "file name", "module", "function", "source line",
          "culprit", "tag", "breadcrumb", "request header", "request data", "extra", "context", "frame var")


def fragments(secret: str) -> list[str]:
    """Every 16-character run of a secret: a secret half shown is a secret shown."""
    if len(secret) <= 16:
        return [secret]
    return [secret[i : i + 16] for i in range(0, len(secret) - 15)]


def plant(payload: dict[str, Any], texts: dict[str, str]) -> None:
    """Each field of the webhook's real event (tests/fixtures' error.created) gets its text."""
    error = payload["data"]["error"]
    error["message"] = texts["message"]
    exc = error["exception"]["values"][0]
    exc["value"] = texts["exception value"]
    exc["type"] = texts["exception type"] + " ReferenceError"
    frame = exc["stacktrace"]["frames"][0]
    frame.update(filename=f"/app/{texts['file name']}.js", module=texts["module"], function=texts["function"],
                 context_line=texts["source line"], in_app=True, vars={"token": texts["frame var"],
                                                                       "note": texts["frame var"]})
    error["culprit"] = texts["culprit"]
    error["tags"] += [["note", texts["tag"]], ["session_id", texts["tag"]]]
    error["breadcrumbs"] = {"values": [{"category": "http", "message": texts["breadcrumb"],
                                        "data": {"url": texts["breadcrumb"], "note": texts["breadcrumb"]}}]}
    request = error["request"]
    name, _, value = texts["request header"].partition("|")
    request["headers"] += [[name, value], ["X-Note", value]]
    request["data"] = {"note": texts["request data"], "body": texts["request data"]}
    request["query_string"] = [["q", texts["request data"]]]
    error["extra"] = {"note": texts["extra"], "config": {"value": texts["extra"]}}
    error["contexts"]["app"] = {"note": texts["context"], "type": "app"}


HEADERS = ("Authorization", "X-Api-Key", "Cookie", "X-Auth-Token", "Proxy-Authorization", "X-Sentry-Token")


def header_plant(name: str, text_and_secret: tuple[str, str]) -> tuple[str, str]:
    """A request header holding a planted text: the header's own value is a secret too."""
    text, secret = text_and_secret
    return f"{name}|{text}", secret


planting = st.fixed_dictionaries({
    **{f: planted for f in FIELDS if f != "request header"},
    "request header": st.tuples(st.sampled_from(HEADERS), planted).map(lambda t: header_plant(*t)),
})


def planted_payload(choice: dict[str, tuple[str, str]]) -> tuple[dict[str, Any], list[str]]:
    payload = copy.deepcopy(load_webhook("error.created"))
    plant(payload, {field: text for field, (text, _) in choice.items()})
    secrets = [secret for _, secret in choice.values()]
    # Hypothesis plays with the code's own constants: a "secret" drawn as "glpat-0000t_window_minutes"
    # shares text with every comment. What shows without any planting is no evidence of a leak.
    return payload, [f for s in secrets for f in fragments(s) if f not in baseline()]


def pure_path(payload: dict[str, Any]) -> dict[str, str]:
    """The event of `payload` analysed and commented on, and what a job would keep of it."""
    event = Event.model_validate(payload["data"]["error"])
    issue = Issue.model_validate(load_webhook("issue.created")["data"]["issue"])
    ctx = AnalysisContext("error", "created", issue, event, NOW, Rules.default().options())
    findings = run_handlers(default_registry(load_plugins=False), ctx)
    plan = build_plan(ctx, findings, Rules.default())
    return {
        "comment": plan.actions[0].body,  # type: ignore[union-attr]
        "findings record": redact_json([f.model_dump(mode="json") for f in findings]),
        "payload record": redact_json(payload),
        "plan record": json.dumps([a.model_dump(mode="json") for a in plan.actions]),
    }


@functools.cache
def baseline() -> str:
    return "\n".join(pure_path(load_webhook("error.created")).values())


def leaks(places: dict[str, str], forbidden: list[str]) -> list[tuple[str, str]]:
    return [(where, f) for where, text in places.items() for f in forbidden if f in text]


@pytest.mark.timeout(300)
@settings(max_examples=150, deadline=None, phases=PHASES, suppress_health_check=[HealthCheck.too_slow])
@given(choice=planting)
def test_planted_secrets_reach_no_comment_and_no_stored_finding(choice: dict[str, tuple[str, str]]) -> None:
    """The pure path, many times: the event analysed, the comment rendered, what a job keeps."""
    payload, forbidden = planted_payload(choice)
    places = pure_path(payload)
    assert not leaks(places, forbidden)
    # Quoted and masked: the comment no longer repeats the exception value (the issue page shows it,
    # issue 21), so the mask shows where it quotes event text (breadcrumbs, frames), escaped or in code.
    assert "[redacted" in places["comment"].replace("\\", "")
    assert_inert(places["comment"])


# ---------------------------------------------------------------------------------------------
# The same, through the gateway, a worker and the ops API (in-process, real Redis)


@contextmanager
def log_lines() -> Iterator[list[str]]:
    """Log lines as written (the service's own formatter, after its processors) and as structlog
    event dicts (capture_logs)."""
    lines: list[str] = []
    formatter = next((h.formatter for h in logging.getLogger().handlers if h.formatter), None)

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record) if formatter else record.getMessage())

    keep = Keep(level=logging.DEBUG)
    logging.getLogger().addHandler(keep)
    try:
        with capture_logs() as events:
            yield lines
        lines += [json.dumps(e, default=str) for e in events]
    finally:
        logging.getLogger().removeHandler(keep)


@pytest.fixture
def worker_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        SENTRY_AUTH_TOKEN=TOKEN, SENTRY_ORGANIZATION="test-org", SENTRY_BASE_URL="https://sentry.test/api/0/",
        RESPONDER_QUIET_WINDOW_S="0", RESPONDER_LOG_LEVEL="DEBUG", RESPONDER_MAX_TRIES="1",
    )


async def run_worker(settings: Settings, sentry: FakeSentry) -> None:
    await run_burst_worker(settings, sentry.transport())


@pytest.fixture
async def ops(client_for: Callable[..., Any]) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await client_for(
        RESPONDER_DASHBOARD_TOKEN=OPS_TOKEN, SENTRY_AUTH_TOKEN=TOKEN, SENTRY_ORGANIZATION="test-org",
        RESPONDER_QUIET_WINDOW_S="0", RESPONDER_LOG_LEVEL="DEBUG",
    )
    client.headers["Authorization"] = f"Bearer {OPS_TOKEN}"
    return client


@pytest.mark.timeout(300)
@settings(max_examples=20, deadline=None, phases=PHASES,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(choice=planting)
async def test_planted_secrets_reach_no_comment_log_record_or_api_answer(
    choice: dict[str, tuple[str, str]], ops: httpx.AsyncClient, redis: Redis, worker_settings: Settings,
) -> None:
    if not STACK_BASELINE:  # what the service writes for the real event, nothing planted
        STACK_BASELINE.append("\n".join((await through_the_stack(
            load_webhook("error.created"), ops, redis, worker_settings)).values()))
    payload, forbidden = planted_payload(choice)
    forbidden = [f for f in forbidden if f not in STACK_BASELINE[0]]  # e.g. a drawn "api_key=job_finished"
    places = await through_the_stack(payload, ops, redis, worker_settings)
    assert "[redacted" in places["comment"].replace("\\", "")
    assert not leaks(places, forbidden)
    assert_inert(places["comment"])


STACK_BASELINE: list[str] = []


async def through_the_stack(
    payload: dict[str, Any], ops: httpx.AsyncClient, redis: Redis, worker_settings: Settings,
) -> dict[str, str]:
    """`payload` posted to the gateway and run by a worker: the comment, the log lines, the ops
    API's answers (while queued and when done) and the job record as stored."""
    await redis.flushdb()
    sentry = FakeSentry.seeded(TOKEN)
    payload["data"]["error"]["event_id"] = uuid.uuid4().hex  # each body differs: no replay de-duplication
    body = wire_bytes(payload)
    headers = signed_headers(body, "error")
    delivery_id = headers["Request-ID"]
    answers: list[str] = []
    with log_lines() as lines:
        accepted = await ops.post("/webhooks/sentry", content=body, headers=headers)
        assert accepted.status_code == 202, accepted.text
        answers.append(accepted.text)
        answers.append((await ops.get(f"/api/jobs/{delivery_id}")).text)  # queued: payload whole, masked at read
        await run_worker(worker_settings, sentry)
        for path in (f"/api/jobs/{delivery_id}", "/api/jobs", "/api/dead", "/api/stats"):
            answers.append((await ops.get(path)).text)
    record = await JobStore(redis).get(delivery_id)
    assert record is not None and record.state is JobState.SUCCEEDED, record and record.error
    raw = await redis.hgetall(keys.job(delivery_id))  # type: ignore[misc]
    comments = sentry.comments_on(ISSUE_ID)
    assert len(comments) == 1
    assert any("job_finished" in line for line in lines)  # the worker's lines were seen
    return {
        "comment": comments[0], "log": "\n".join(lines), "API answers": "\n".join(answers),
        "job record": json.dumps({k.decode(): v.decode() for k, v in raw.items()}),
    }


# One realistic example of each shape (made-up values of the published formats).
SAMPLES: dict[str, tuple[str, str]] = {
    "github classic": ("ghp_" + "x7Kq2LmN9pR4sT6vW8yZ0aB1cD3eF5gH7jK9", "ghp_" + "x7Kq2LmN9pR4sT6vW8yZ0aB1cD3eF5gH7jK9"),
    "github fine-grained": ("github_pat_11ABCDEFG0123456789abc_" + "Zy9" * 19 + "Q2", "github_pat_11ABCDEFG0123456789abc_" + "Zy9" * 19 + "Q2"),
    "sentry org token": ("sntrys_eyJpYXQiOjE3MDAwMDAwMDAuMCwidXJsIjoiaHR0cHM6Ly9zZW50cnkuaW8ifQ==_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh",) * 2,
    "sentry user token": ("sntryu_" + "0123456789abcdef" * 4,) * 2,
    "stripe": ("sk_live_51H8xYzAbCdEfGhIjKlMnOpQr",) * 2,
    "openai": ("sk-proj-Ab3_dEf6-hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9",) * 2,
    "gitlab": ("glpat-x7Kq2LmN9p_R4sT6vW8y",) * 2,
    "slack": ("xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",) * 2,
    "google": ("AIzaSyA1b2C3d4E5f6G7h8I9j0K_l-M2n3O4p5Q",) * 2,
    "aws access key": ("AKIAIOSFODNN7EXAMPLE",) * 2,
    "aws secret key": ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    "jwt": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJfX3VzZXJfXyJ9.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",) * 2,
    "bearer": ("Authorization: Bearer ab_cd-ef.gh~ij+kl/mn_op", "ab_cd-ef.gh~ij+kl/mn_op"),
    "private key": _pem("RSA ", "MIIEowIBAAKCAQEA1x7Kq2LmN9pR4sT6vW8yZ0aB1cD3eF5gH7jK9" * 3),
    "url credentials": ("postgres://app:S3cr3t-P4ss.w0rd!@db.internal:5432/app", "S3cr3t-P4ss.w0rd!"),
    "key/value": ("session_id=9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706"),
    "key/value quoted": ('{\\"password\\": \\"correct horse battery staple\\"}', "correct horse battery staple"),
    "azure sas": ("https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sig=Zx9kLm%2BQwAbCdEfGhIjKlMn%3D&se=2026", "Zx9kLm%2BQwAbCdEfGhIjKlMn"),
    "twilio": ("SK" + "0123456789abcdef" * 2,) * 2,
    "square": ("sq0csp-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg",) * 2,
    "linear": ("lin_api_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd",) * 2,
    "databricks": ("dapi" + "0123456789abcdef" * 2,) * 2,
    "google oauth": ("1//0gAbCdEfGhIjKlMnOpQrStUvWxYz0123456789",) * 2,
    "facebook": ("EAABwzLixnjYBAAbCdEfGhIjKlMnOpQrStUvWxYz0123456789",) * 2,
    "short key names": ("?key=AIzaNotQuiteAKey1234567&page=2", "AIzaNotQuiteAKey1234567"),
    "otp and pin": ("OTP: 93827104", "93827104"),
    "password in words": ("the password is Summer2026!", "Summer2026!"),
}


def test_every_shape_is_masked_in_every_prefix_and_suffix() -> None:
    """A sweep beside the random one: each shape, each context around it."""
    assert set(SAMPLES) == set(SHAPES)
    for name, (text, secret) in SAMPLES.items():
        for prefix in PREFIXES:
            for suffix in SUFFIXES:
                masked = redact(prefix + text + suffix) + "\n" + md(prefix + text + suffix)
                assert not [f for f in fragments(secret) if f in masked], (name, prefix, suffix, masked)


# ---------------------------------------------------------------------------------------------
# (c) the same attack on running processes: gateway, worker, Redis and the Sentry stand-in


@pytest.mark.chaos
@pytest.mark.timeout(120)
def test_a_running_stack_posts_no_secret_and_no_live_markup(stack: Stack) -> None:  # noqa: F811
    shapes = sorted(SAMPLES)
    texts = {field: f"{HOSTILE[n % len(HOSTILE)]} {SAMPLES[shapes[n % len(shapes)]][0]}"
             for n, field in enumerate(FIELDS)}
    texts["exception value"] = f"{LINK} {SAMPLES['github classic'][0]} {SAMPLES['key/value quoted'][0]}"
    texts["request header"] = f"X-Api-Key|{SAMPLES['gitlab'][0]}"
    forbidden = [f for _, secret in SAMPLES.values() for f in fragments(secret)]
    delivery_id, response = stack.post("error.created", ISSUE_ID, mutate=lambda payload: plant(payload, texts))
    assert response.status_code == 202, response.text
    w = worker(stack.env)
    try:
        stack.wait([delivery_id], {"succeeded"})
    finally:
        w.stop()
    notes = [n["data"]["text"] for n in stack.notes().get(ISSUE_ID, [])]
    assert len(notes) == 1
    # Inert; the hostile message itself is not quoted (the issue page shows it, issue 21); that
    # quoted event text reads as the very text is checked in the default-comment tests above.
    assert_inert(notes[0])
    job = httpx.get(f"{stack.gateway_url}/api/jobs/{delivery_id}", timeout=5).text
    places = {"comment": notes[0], "worker log": w.log(), "gateway log": stack.gateway_proc.log(), "API answer": job}
    assert not leaks(places, forbidden)
