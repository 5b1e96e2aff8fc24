"""Layering: API → worker → jobs → pipeline/storage/tenants/…, never upward, and no cycles.

Every import in service/ is read with `ast`, at module level *and* inside functions
(a lazy import is still a dependency, and a hidden cycle). A module's layer is the
one of its longest listed prefix. An import may go to the same layer or a lower one;
the cycle check then keeps modules of one layer from leaning on each other both ways.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVICE = REPO / "service"

# Higher numbers sit above lower ones; an import from layer a to layer b needs b <= a.
LAYERS: dict[str, int] = {
    "service": 0,  # the package itself (__version__)
    "service.config": 0,
    "service.errors": 0,
    "service.logs": 0,
    "service.pipeline": 1,
    "service.storage": 1,
    "service.tenants": 1,
    "service.ratelimit": 1,
    "service.webhooks": 1,
    "service.jobs": 2,
    "service.worker": 3,
    "service.api": 4,
    "service.webui": 4,
    "service.server": 4,
    "service.tenants_cli": 4,
    "service.cli": 5,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SERVICE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported service module, line) for every import in the file, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "service":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "service":
                continue
            for alias in node.names:
                # `from pkg import submodule` depends on the submodule, else on pkg.
                sub = f"{base}.{alias.name}"
                yield (sub if sub in known else base), node.lineno


def layer(name: str) -> int:
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len, default="")
    if not best:
        raise AssertionError(f"{name} has no layer: add it to LAYERS in tests/test_layering.py")
    return LAYERS[best]


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {
        name: {target for target, _ in imports_of(name, path, known) if target != name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path a → … → a), or None. Iterative three-colour DFS."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in sorted(graph):
        if state.get(root):
            continue
        path: list[str] = [root]
        stack: list[Iterator[str]] = [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt in graph and not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_every_module_has_a_layer() -> None:
    for name in all_modules():
        layer(name)


def test_no_import_goes_up() -> None:
    modules = all_modules()
    known = set(modules)
    upward = [
        f"{path.relative_to(REPO)}:{line}: {name} (layer {layer(name)}) imports "
        f"{target} (layer {layer(target)})"
        for name, path in modules.items()
        for target, line in imports_of(name, path, known)
        if layer(target) > layer(name)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " → ".join(cycle or [])


@pytest.mark.parametrize(
    ("graph", "cyclic"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, False),  # a diamond is no cycle
        ({"a": {"a2"}, "a2": set(), "x": {"y"}, "y": {"x"}}, True),
    ],
)
def test_find_cycle_itself(graph: dict[str, set[str]], cyclic: bool) -> None:
    assert (find_cycle(graph) is not None) is cyclic


def test_the_checker_sees_lazy_and_upward_imports(tmp_path: Path) -> None:
    """A function-level import counts, and is resolved to the submodule it names."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from service.api import ratelimit\n    import service.cli\n")
    found = {t for t, _ in imports_of("service.jobs.m", source, {"service.api.ratelimit"})}
    assert found == {"service.api.ratelimit", "service.cli"}
    assert all(layer(t) > layer("service.jobs.m") for t in found)
