"""Redis replies as text: the one way to read a key, member or field that holds text.

The connections are not made with `decode_responses=True`: the same pool carries arq's pickled-free
but binary job data and verbatim webhook bodies, which must stay bytes. Readers of text decode
here instead, so a reply that is already `str` (a decoding connection in a tool or a test) passes
through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def text(value: bytes | str) -> str:
    """One reply as text."""
    return value.decode() if isinstance(value, bytes) else value


def optional_text(value: bytes | str | None) -> str | None:
    """A reply that may be missing (GET, HGET, HMGET) as text, or None."""
    return None if value is None else text(value)


def texts(values: Iterable[bytes | str]) -> list[str]:
    """Members of a set, zset or list as text."""
    return [text(value) for value in values]


def text_fields(fields: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """A hash (HGETALL) as text."""
    return {text(name): text(value) for name, value in fields.items()}
