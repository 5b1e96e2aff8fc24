"""docs/api.md's Settings tables list every field of `Settings`, and only those, with the
code's defaults (issue 11: MAX_DURATION_S, MAX_PIXELS, WEBHOOK_* were missing)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from service.config import Settings
from tests.clips import REPO

DOCS = REPO / "docs" / "api.md"
ROW = re.compile(r"^\| (`[A-Z0-9_]+`(?: / `[A-Z0-9_]+`)*) \| ([^|]+) \|", re.MULTILINE)


def settings_section(text: str) -> str:
    start = text.index("\n## Settings\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def documented() -> dict[str, str]:
    """NAME -> the default cell as written ("A / B" rows split into both names)."""
    rows: dict[str, str] = {}
    for names, default in ROW.findall(settings_section(DOCS.read_text())):
        keys = [n.strip("`") for n in names.split(" / ")]
        values = [v.strip() for v in default.split(" / ")]
        if len(values) != len(keys):
            values = [default.strip()] * len(keys)
        for key, value in zip(keys, values, strict=True):
            assert key not in rows, f"{key} is documented twice"
            rows[key] = value
    return rows


def shown(value: Any) -> str | None:
    """How a default is written in the table, or None where it depends on the machine."""
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Path):
        return None if value.is_absolute() else str(value)
    return str(value)


def test_every_setting_is_in_the_table() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    rows = documented()
    assert sorted(fields - set(rows)) == [], "document them in docs/api.md, ## Settings"
    assert sorted(set(rows) - fields) == [], "rows for settings that do not exist"


def test_defaults_match_the_code() -> None:
    rows = documented()
    wrong = []
    for name, field in Settings.model_fields.items():
        expected = shown(field.default)
        cell = rows.get(name.upper(), "")
        if expected is not None and not cell.startswith(f"`{expected}`") and cell != expected:
            wrong.append(f"{name.upper()}: docs say {cell!r}, the code {expected!r}")
    assert wrong == []


def test_the_parser_reads_split_rows_and_stops_at_the_next_section() -> None:
    text = (
        "# x\n\n## Settings\n\n| setting | default | meaning |\n|---|---|---|\n"
        "| `HOST` / `PORT` | `127.0.0.1` / `8000` | where |\n\n## Next\n| `QUEUE` | `x` | y |\n"
    )
    section = settings_section(text)
    found = dict(ROW.findall(section))
    assert found == {"`HOST` / `PORT`": "`127.0.0.1` / `8000`"}
    assert "QUEUE" not in section
