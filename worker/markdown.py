"""Text from events, made safe to place in a Markdown comment: redacted first, then escaped.

Anyone with a project's public DSN writes exception types, messages, module and file names and
tags, so none of it may become a link, an image, HTML, a heading, emphasis or a table cell in the
integration's own comment. Order matters: redaction reads raw text (an escaped `ghp\\_…` no longer
looks like a token, and Markdown renders it back), so a value is redacted, cut to length, then
escaped; the rendered comment is redacted once more, on its unescaped reading (`redact_markdown`).

The escaping is CommonMark's backslash escape (any ASCII punctuation may be escaped and then
renders as itself), applied to every character that can start markup, plus breaks in the shapes
GitHub-flavoured Markdown turns into links on its own (`https://…`, `www.…`, `a@b.c`).
"""

from __future__ import annotations

import re

from shared.sentry.redact import EMAIL_MASK, MASK, redact, replace_spans, secret_spans

MAX_VALUE = 300
# Backslash-escaped wherever they occur: inline markup (emphasis, code, links, images, HTML,
# entities, strikethrough, table pipes, headings, mentions), and the second "/" of "//", the "."
# of "www." and the ":" of "://", which GitHub-flavoured Markdown would turn into links.
_SPECIAL = re.compile(r"[\\`*_{}\[\]<>()#!|~&@]|(?<=/)/|(?i:(?<=www))\.|:(?=//)")
# Only at the start of a line: lists, quotes, thematic breaks and setext underlines, "1." lists.
_LINE_START = re.compile(r"^(?:[-+=](?=[-+=\s]|$)|>|\d+(?=[.)](?:\s|$)))")
_STRUCTURE = re.compile(r"\\\||\||`")  # kept where a mask falls: code spans close, table cells stay
MASKS = (MASK, EMAIL_MASK)
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash escape: backslash + ASCII punctuation
# Control characters and the bidirectional overrides that make text read otherwise than it is.
_INVISIBLE = dict.fromkeys(
    [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)], " "
)


class Markdown(str):
    """Text that is already safe to place in a comment: the template passes it through as it is."""


def plain(value: object) -> str:
    """One line of event text with its secrets masked, at most MAX_VALUE characters."""
    text = redact("" if value is None else str(value))
    return " ".join(text.translate(_INVISIBLE).split())[:MAX_VALUE]


def escape_md(text: str) -> str:
    """`text` escaped so that Markdown shows it as it is, whatever it holds."""
    text = _SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    return _LINE_START.sub(lambda m: m.group(0) + "\\" if m.group(0).isdigit() else "\\" + m.group(0), text)


def md(value: object) -> Markdown:
    """Template filter and default: event text as escaped Markdown."""
    if isinstance(value, Markdown):
        return value
    return Markdown(escape_md(plain(value)))


def code(value: object) -> Markdown:
    """Template filter: event text as a code span no backtick or table pipe can break out of."""
    text = plain(value).replace("`", "'").replace("|", "\\|")
    return Markdown("`" + text + "`" if text else "")


def redact_markdown(text: str) -> str:
    """Mask what still reads as a secret in rendered Markdown, looking through its escapes."""
    unescaped, origin = _unescape(text)
    spans = [s for s, _ in secret_spans(unescaped) if unescaped[s[0] : s[1]] not in MASKS]  # masked already
    if not spans:
        return text
    mask = escape_md(MASK)
    mapped = [(span, mask + "".join(_STRUCTURE.findall(text, *span))) for span in
              ((origin[start], origin[end]) for start, end in spans)]
    return replace_spans(text, mapped)


def _unescape(text: str) -> tuple[str, list[int]]:
    """`text` without its backslash escapes, and where each of its characters starts in `text`
    (one more entry, for the end)."""
    chars: list[str] = []
    origin: list[int] = []
    last = 0
    for match in _ESCAPED.finditer(text):
        for i in range(last, match.start()):
            chars.append(text[i])
            origin.append(i)
        chars.append(match.group(1))
        origin.append(match.start())
        last = match.end()
    for i in range(last, len(text)):
        chars.append(text[i])
        origin.append(i)
    origin.append(len(text))
    return "".join(chars), origin
