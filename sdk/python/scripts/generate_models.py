"""Generate the SDK's response models (src/kneecave_sdk/_models.py) from the API's OpenAPI document.

    .venv/bin/python sdk/python/scripts/generate_models.py                  # the in-process app
    .venv/bin/python sdk/python/scripts/generate_models.py --url URL        # a running server
    .venv/bin/python sdk/python/scripts/generate_models.py --check          # exit 1 if stale

Every component schema a response refers to becomes a pydantic model (JobPublic is named Job);
enums become Literal types for mypy that accept any string at run time, so a value added by a
newer server does not break an older app. tests/test_sdk_models.py runs the check.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SDK = Path(__file__).resolve().parent.parent
REPO = SDK.parent.parent
TARGET = SDK / "src" / "kneecave_sdk" / "_models.py"
COMMAND = ".venv/bin/python sdk/python/scripts/generate_models.py"

# Server component name -> SDK class name.
RENAMES = {"JobPublic": "Job"}
# Names for enums written inline in a property (keyed by their values, in order).
INLINE_ENUMS = {
    ("left", "right"): "Side",
    ("none", "mild", "moderate", "severe"): "Severity",
    ("front", "side", "oblique"): "RepView",
    ("front", "side", "oblique", "other"): "ResultView",
}
# Hand-written members appended to a generated class.
EXTRA_MEMBERS = {
    "Job": '''
    @property
    def terminal(self) -> bool:
        """True once the job is succeeded, failed or canceled: it will not change any more."""
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"
''',
}

HEADER = f'''# Generated from the API's OpenAPI document by sdk/python/scripts/generate_models.py.
# Do not edit: after changing a response schema on the server, run
#     {COMMAND}
"""Response models of the kneecave API (the server's OpenAPI component schemas).

Unknown fields are kept (``model_extra``), never rejected. Enumerations are Literal types for
type checkers but accept any string at run time, so a value added by a newer server does not
make an older app fail.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import Field

from kneecave_sdk._constants import TERMINAL_STATUSES
from kneecave_sdk._model_base import Model
'''


# --- the OpenAPI document -------------------------------------------------------------------


def openapi_from_app() -> dict[str, Any]:
    """The document the API serves, built in process (no server, no backends opened)."""
    sys.path.insert(0, str(REPO))
    from service.api.app import create_app  # noqa: PLC0415 (the server is a dev-only import)
    from service.config import Settings  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        doc: dict[str, Any] = create_app(Settings(data_dir=Path(tmp))).openapi()
    return doc


def openapi_from_url(url: str) -> dict[str, Any]:
    import httpx  # noqa: PLC0415

    response = httpx.get(url.rstrip("/") + "/openapi.json", timeout=30)
    response.raise_for_status()
    doc: dict[str, Any] = response.json()
    return doc


SCHEMA_REF = "#/components/schemas/"


def _refs(node: Any) -> Iterator[str]:
    """Names of the component schemas a node refers to (header and parameter refs are not)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            yield ref.removeprefix(SCHEMA_REF)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _operations(section: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in section.values():
        yield from (op for op in item.values() if isinstance(op, dict))


def response_schemas(doc: dict[str, Any]) -> list[str]:
    """Component names reachable from any operation's responses or any webhook's body (the
    events the API sends), dependencies first."""
    components: dict[str, Any] = doc["components"]["schemas"]
    sent = [op.get("responses", {}) for op in _operations(doc["paths"])]
    sent += [op.get("requestBody", {}) for op in _operations(doc.get("webhooks", {}))]
    roots = sorted({name for part in sent for name in _refs(part)})
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for dep in sorted(set(_refs(components[name]))):
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for name in roots:
        visit(name)
    return order


# --- rendering ------------------------------------------------------------------------------


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\W]+", name) if part)


def _literal(values: list[Any]) -> str:
    return "Literal[" + ", ".join(json.dumps(v) for v in values) + "]"


def _docstring(text: str, indent: str) -> str:
    text = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text += " "
    one = f'{indent}"""{text}"""'
    if len(one) <= 100 and "\n" not in text:
        return one + "\n"
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(para, width=96 - len(indent)) or [""])
    body = "\n".join(f"{indent}{line}" if line else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{body}\n{indent}"""\n'


class Renderer:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.components: dict[str, Any] = doc["components"]["schemas"]
        self.enums: dict[str, list[Any]] = {}  # alias name -> values

    def name(self, component: str) -> str:
        return RENAMES.get(component, component)

    def enum_alias(self, values: list[Any], fallback: str) -> str:
        name = INLINE_ENUMS.get(tuple(values), fallback)
        if self.enums.setdefault(name, values) != values:
            raise SystemExit(f"two different enums would both be named {name}")
        return name

    def type_of(self, schema: dict[str, Any], where: str) -> str:
        if "$ref" in schema:
            return self.name(schema["$ref"].removeprefix(SCHEMA_REF))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                parts = [self.type_of(s, where) for s in schema[key]]
                parts = [p for p in parts if p != "None"] + (["None"] if "None" in parts else [])
                return " | ".join(dict.fromkeys(parts))
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.type_of(schema["allOf"][0], where)
        if "enum" in schema:
            return self.enum_alias(list(schema["enum"]), where)
        kind = schema.get("type")
        if kind == "string":
            return "datetime" if schema.get("format") == "date-time" else "str"
        if kind in ("integer", "number", "boolean", "null"):
            return {"integer": "int", "number": "float", "boolean": "bool", "null": "None"}[kind]
        if kind == "array":
            return f"list[{self.type_of(schema.get('items', {}), where)}]"
        if kind == "object":
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                return f"dict[str, {self.type_of(extra, where)}]"
            return "dict[str, Any]"
        return "Any"

    def field(self, cls: str, prop: str, schema: dict[str, Any], required: bool) -> str:
        annotation = self.type_of(schema, cls + _pascal(prop))
        line = f"    {prop}: {annotation}"
        if not required:
            default = schema.get("default")
            if default not in (None, [], {}):
                line += f" = {default!r}"
            elif annotation.endswith("| None"):
                line += " = None"
            elif annotation.startswith("list["):
                line += " = Field(default_factory=list)"
            elif annotation.startswith("dict["):
                line += " = Field(default_factory=dict)"
            else:
                line += " | None = None"
        out = line + "\n"
        if schema.get("description"):
            out += _docstring(schema["description"], "    ")
        return out

    def model(self, component: str) -> str:
        schema = self.components[component]
        cls = self.name(component)
        out = f"\n\nclass {cls}(Model):\n"
        if schema.get("description"):
            out += _docstring(schema["description"], "    ") + "\n"
        required = set(schema.get("required", []))
        props: dict[str, Any] = schema.get("properties", {})
        out += "".join(self.field(cls, p, s, p in required) for p, s in props.items())
        if not props:
            out += "    pass\n"
        return out + EXTRA_MEMBERS.get(cls, "")

    def module(self, names: list[str]) -> str:
        classes = ""
        for component in names:
            schema = self.components[component]
            if "enum" in schema:
                self.enum_alias(list(schema["enum"]), self.name(component))
            else:
                classes += self.model(component)
        typed = "".join(
            f"    {name}: TypeAlias = {_literal(values)}\n" for name, values in self.enums.items()
        )
        loose = " = ".join(self.enums) + " = str" if self.enums else "pass"
        enums = (
            "\n# Enumerations: Literal types for type checkers, any string at run time.\n"
            f"if TYPE_CHECKING:\n{typed}else:\n    {loose}\n"
        )
        exported = sorted([*self.enums, *(self.name(n) for n in names if n not in self.enums)])
        all_ = "\n__all__ = [" + ", ".join(json.dumps(n) for n in exported) + "]\n"
        return HEADER + all_ + enums + classes


def ruff_format(source: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=SDK,
    )
    return done.stdout


def generate(doc: dict[str, Any]) -> str:
    return ruff_format(Renderer(doc).module(response_schemas(doc)))


def diff(current: str, fresh: str) -> str:
    lines = difflib.unified_diff(
        current.splitlines(keepends=True),
        fresh.splitlines(keepends=True),
        f"{TARGET.name} (checked in)",
        f"{TARGET.name} (from the server's OpenAPI)",
    )
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="read /openapi.json from this server instead")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    args = parser.parse_args(argv)
    doc = openapi_from_url(args.url) if args.url else openapi_from_app()
    fresh = generate(doc)
    current = TARGET.read_text() if TARGET.exists() else ""
    if args.check:
        if current != fresh:
            sys.stderr.write(diff(current, fresh) + f"\nstale: run {COMMAND}\n")
            return 1
        return 0
    TARGET.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
