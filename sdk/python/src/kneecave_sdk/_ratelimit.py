"""RateLimit: where a budget stood after a request, read from the IETF ``RateLimit-Policy`` and
``RateLimit`` header fields (draft-ietf-httpapi-ratelimit-headers: structured-field lists).

Parsing is tolerant by design: the fields are advisory, so a missing or malformed field gives
None (or a None part), never an exception inside an otherwise good response.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

import httpx

Params: TypeAlias = dict[str, int | str | None]

_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*")
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}(?![0-9.])")
_OTHER = re.compile(r"[^\s;,]+")  # decimals, booleans, byte sequences: kept, never used


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A budget as the server counted it: ``remaining`` requests of ``limit`` until the window
    resets in ``reset_s`` seconds. ``limit`` is None when the response had no matching
    ``RateLimit-Policy``, ``reset_s`` None when ``RateLimit`` had no ``t``."""

    policy: str
    limit: int | None
    remaining: int
    reset_s: int | None

    @classmethod
    def from_headers(cls, headers: httpx.Headers | Mapping[str, str]) -> RateLimit | None:
        """The budget a response reports; None when it has no (readable) ``RateLimit`` field.

        With several policies in one response, the one with the fewest requests left.
        """
        headers = httpx.Headers(headers)  # case-insensitive; repeated fields joined by ", "
        current = _parse_list(headers.get("ratelimit"))
        policies = dict(_parse_list(headers.get("ratelimit-policy")))
        found: list[RateLimit] = []
        for name, params in current:
            remaining, reset_s = _count(params.get("r")), _count(params.get("t"))
            if remaining is None:
                continue
            limit = _count(policies.get(name, {}).get("q"))
            found.append(cls(name, limit, remaining, reset_s))
        return min(found, key=lambda rl: rl.remaining, default=None)


def _count(value: int | str | None) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


def _parse_list(value: str | None) -> list[tuple[str, Params]]:
    """An RFC 9651 list of items as (item, parameters); [] when absent or malformed."""
    if value is None:
        return []
    items: list[tuple[str, Params]] = []
    pos = _skip(value, 0)
    while pos < len(value):
        item, pos = _bare_item(value, pos)
        if item is None:
            return []
        params: Params = {}
        while pos < len(value) and value[pos] == ";":
            key = _KEY.match(value, _skip(value, pos + 1))
            if key is None:
                return []
            pos, param = key.end(), None
            if pos < len(value) and value[pos] == "=":
                param, pos = _bare_item(value, pos + 1)
                if param is None:
                    return []
            params[key.group()] = param
        items.append((item if isinstance(item, str) else str(item), params))
        pos = _skip(value, pos)
        if pos < len(value):
            if value[pos] != ",":
                return []
            pos = _skip(value, pos + 1)
    return items


def _bare_item(value: str, pos: int) -> tuple[int | str | None, int]:
    """One bare item at ``pos`` (string, token, integer or another kind kept as text)."""
    if value.startswith('"', pos):
        out: list[str] = []
        pos += 1
        while pos < len(value):
            ch = value[pos]
            if ch == "\\" and pos + 1 < len(value):
                out.append(value[pos + 1])
                pos += 2
            elif ch == '"':
                return "".join(out), pos + 1
            else:
                out.append(ch)
                pos += 1
        return None, pos  # unterminated string
    for pattern in (_INTEGER, _TOKEN, _OTHER):
        match = pattern.match(value, pos)
        if match:
            text = match.group()
            return (int(text) if pattern is _INTEGER else text), match.end()
    return None, pos


def _skip(value: str, pos: int) -> int:
    while pos < len(value) and value[pos] in " \t":
        pos += 1
    return pos
