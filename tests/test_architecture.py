"""The layers, read from the imports: what each part may import, and no import cycle.

The rules, one test each:

1. Pure. `_core/` (and the Redis budget's pure parts) reads no clock and moves no
   bytes: it imports neither ``time``, ``asyncio``, ``aiohttp``, ``redis``,
   ``socket`` nor ``threading``, and each module says "This module is pure".
2. Nothing in `_core/` points up: from the package it imports only `_core`,
   `_errors` and `_models`, never the shell, the resources, the client or
   anything built on them.
3. Nothing in `_errors.py` points up: from the package it imports only `_models`
   (the wire's error body), since every layer raises its errors.
4. No import cycle in the library outside `testing/` (the emulator is a test
   server with a surface of its own).
5. `dlt/` is only dlt: it imports the package's public names (the top level,
   the public subpackages), the sync's room `_sync/` and its own modules, never
   another private module.
6. Small files: no module of the package is over `MAX_LINES` lines.

Every import is an arrow a reader follows, so every import counts: at the top,
inside a function, and under ``if TYPE_CHECKING:``. Today's exceptions are
listed with their reasons; a listed exception that no longer occurs fails too,
so the lists only shrink.
"""

from __future__ import annotations

import ast
from pathlib import Path

import helpcrunch_async as hc

PACKAGE = Path(hc.__file__).parent
ROOT = PACKAGE.name

# Rule 1: the top-level modules a pure module may not import.
CLOCK_OR_BYTES = frozenset({"time", "asyncio", "aiohttp", "redis", "socket", "threading"})
PURE_OUTSIDE_CORE = ("_redis/state.py", "_redis/scripts.py")

# Rules 2 and 3: the parts of the package each may import (a part: the first name under it).
CORE_MAY_IMPORT = frozenset({"_core", "_errors", "_models"})
ERRORS_MAY_IMPORT = frozenset({"_models"})

# Rule 5: the parts `dlt/` may import besides public names: the sync's room and itself.
DLT_MAY_IMPORT = frozenset({"_sync", "dlt"})

# Rule 6: a module longer than this holds two jobs; move one out whole.
MAX_LINES = 600

# (importing module, imported module) -> why the arrow is there today.
UPWARD_TODAY: dict[tuple[str, str], str] = {}

# The modules of a cycle -> why it is there today (none: a new cycle fails rule 4).
CYCLES_TODAY: dict[frozenset[str], str] = {}


def module_of(path: Path) -> str:
    """The dotted name of ``path`` inside the package (``""`` for its ``__init__``)."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_of(path): path for path in PACKAGE.rglob("*.py")}


def absolute(node: ast.ImportFrom, module: str, *, package: bool) -> str:
    """The dotted name that ``node`` imports from, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    here = module.split(".") if module else []
    if not package:
        here = here[:-1]
    base = ".".join([ROOT, *here[: len(here) - (node.level - 1)]])
    return f"{base}.{node.module}" if node.module else base


def names_in(source: str, module: str, *, package: bool = False) -> set[str]:
    """Every dotted name the ``source`` of ``module`` imports, wherever the import stands."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node, module, package=package)
            for alias in node.names:
                # A submodule by name is an arrow to it; any other name, to the module it is in.
                inner = f"{base}.{alias.name}"
                names.add(inner if inner.removeprefix(f"{ROOT}.") in MODULES else base)
    return names


def imported(module: str) -> set[str]:
    """Every dotted name ``module`` imports."""
    path = MODULES[module]
    return names_in(path.read_text(), module, package=path.name == "__init__.py")


def arrows(module: str) -> set[str]:
    """The package's modules that ``module`` imports (names inside the package)."""
    prefix = f"{ROOT}."
    inside = {name.removeprefix(prefix) for name in imported(module) if name.startswith(prefix)}
    return {name for name in inside if name in MODULES and name != module}


def part(module: str) -> str:
    """The first name of ``module`` inside the package: ``_core``, ``_errors``, ``dlt``."""
    return module.split(".", maxsplit=1)[0]


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = {stack.pop()}
            while node not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.add(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def library_graph() -> dict[str, set[str]]:
    """Each module of the library outside ``testing/`` and the library modules it imports."""
    library = {m for m in MODULES if part(m) != "testing"}
    return {m: arrows(m) & library for m in library}


def upward() -> set[tuple[str, str]]:
    """Every arrow from `_core/` or `_errors.py` to a part each may not import (rules 2, 3)."""
    found = set()
    for module in MODULES:
        if part(module) == "_core":
            allowed = CORE_MAY_IMPORT
        elif module == "_errors":
            allowed = ERRORS_MAY_IMPORT
        else:
            continue
        found |= {(module, t) for t in arrows(module) if part(t) not in allowed}
    return found


def test_pure_core_modules_neither_read_a_clock_nor_move_bytes() -> None:
    pure = [p for m, p in MODULES.items() if part(m) == "_core" and p.name != "__init__.py"]
    pure += [PACKAGE / relative for relative in PURE_OUTSIDE_CORE]
    for path in sorted(pure):
        names = imported(module_of(path))
        assert not {name.split(".", maxsplit=1)[0] for name in names} & CLOCK_OR_BYTES, path.name
        assert "This module is pure" in (ast.get_docstring(ast.parse(path.read_text())) or "")


def test_nothing_in_core_or_errors_points_up() -> None:
    assert upward() <= set(UPWARD_TODAY)


def test_no_import_cycle_in_the_library_outside_testing() -> None:
    assert cycles(library_graph()) <= set(CYCLES_TODAY)


def private_for_dlt(name: str) -> bool:
    """Whether ``name`` (a dotted import) is a private module of the package `dlt/` may not use."""
    if not name.startswith(f"{ROOT}."):
        return False
    inner = name.removeprefix(f"{ROOT}.")
    if part(inner) in DLT_MAY_IMPORT:
        return False
    return any(piece.startswith("_") for piece in inner.split("."))


def private_imports_of_dlt() -> set[tuple[str, str]]:
    """Every private module of the package a module of `dlt/` imports (rule 5)."""
    return {
        (module, name.removeprefix(f"{ROOT}."))
        for module in MODULES
        if part(module) == "dlt"
        for name in imported(module)
        if private_for_dlt(name)
    }


def test_dlt_imports_only_public_names_and_the_sync_room() -> None:
    assert private_imports_of_dlt() == set()


def test_no_module_is_over_the_line_limit() -> None:
    sizes = {module: len(path.read_text().splitlines()) for module, path in MODULES.items()}
    assert {module: n for module, n in sizes.items() if n > MAX_LINES} == {}


def test_the_exceptions_listed_today_still_occur() -> None:
    assert set(UPWARD_TODAY) <= upward()
    assert set(CYCLES_TODAY) <= cycles(library_graph())


SOURCE = """
from __future__ import annotations
from typing import TYPE_CHECKING
from helpcrunch_async._core import paging
from .._models.customers import Customer
if TYPE_CHECKING:
    from ..secret import Secret
def later() -> None:
    import helpcrunch_async._shell.engine
"""

DLT_SOURCE = """
from typing import TYPE_CHECKING
from helpcrunch_async import Chat
from helpcrunch_async._sync import plan
from ._rows import record
if TYPE_CHECKING:
    from helpcrunch_async._client import HelpCrunch
def later() -> None:
    from helpcrunch_async.webhooks._inbox import read_waiting
"""


def test_the_rules_see_imports_of_every_kind() -> None:
    # A rule that read no imports would pass everything: one import of each kind.
    names = names_in(SOURCE, "_shell.scan.plan")
    assert f"{ROOT}._core.paging" in names  # absolute, a module named after `import`
    assert f"{ROOT}._core" not in names  # ...which is no arrow to its package
    assert f"{ROOT}._shell._models.customers" in names  # relative, at the top
    assert f"{ROOT}._shell.secret" in names  # relative, type-only
    assert f"{ROOT}._shell.engine" in names  # inside a function
    assert names_in("from . import cap", "_core", package=True) == {f"{ROOT}._core.cap"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset("abc")}
    # Rule 5: a private module is refused wherever its import stands; public names pass.
    assert {n for n in names_in(DLT_SOURCE, "dlt._source") if private_for_dlt(n)} == {
        f"{ROOT}._client",
        f"{ROOT}.webhooks._inbox",
    }
    assert not private_for_dlt(ROOT)
    assert not private_for_dlt(f"{ROOT}.webhooks")
    assert not private_for_dlt(f"{ROOT}._sync.plan")
    assert not private_for_dlt(f"{ROOT}.dlt._rows")
    assert private_for_dlt(f"{ROOT}.webhooks._listen")
    assert private_for_dlt(f"{ROOT}.testing._thread")
    assert cycles({"a": {"b"}, "b": set()}) == set()
