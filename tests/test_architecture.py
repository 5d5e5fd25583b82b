"""The house's seams, checked on the source: no import cycle anywhere in `plnfilter` (imports inside
functions included), and no module outside a network's package deciding anything by a network's
name (`plnfilter/sources/registry.py` is the one table that names them)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "plnfilter"
NETWORK_NAMES = frozenset({"mastodon", "bluesky", "file", "feed"})


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(tree: ast.AST):
    """Every Import/ImportFrom that runs (module level or inside a function), not `if TYPE_CHECKING:` ones."""
    pending = [tree]
    while pending:
        node = pending.pop()
        if _type_checking_only(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        pending.extend(ast.iter_child_nodes(node))


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the package's modules it imports by name (`from pkg import submodule` counts the submodule)."""
    modules = modules_of(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as [a, b, ..., a], or [] when there is none."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _network_literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lower() in NETWORK_NAMES:
        return node.value
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        for element in node.elts:
            found = _network_literal(element)
            if found:
                return found
    return None


def network_name_decisions(root: Path, exempt: list[Path]) -> list[str]:
    """`FILE:LINE: 'name'` wherever a module outside `exempt` compares to a network's name (==, !=,
    in, match) or keys a dict by one."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if any(path == place or place in path.parents for place in exempt):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            literals: list[str | None] = []
            if isinstance(node, ast.Compare):
                literals = [_network_literal(side) for side in (node.left, *node.comparators)]
            elif isinstance(node, ast.Dict):
                literals = [_network_literal(key) for key in node.keys if key is not None]
            elif isinstance(node, ast.MatchValue):
                literals = [_network_literal(node.value)]
            for literal in filter(None, literals):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}: {literal!r}")
    return found


def network_packages(root: Path) -> list[Path]:
    """Each registered network's package directory, and the registry itself."""
    from plnfilter.sources.registry import NETWORKS

    places = [root / "sources" / "registry.py"]
    for module in NETWORKS.values():
        places.append(root.parent / Path(*module.split(".")))
    return places


def test_the_package_has_no_import_cycle_counting_imports_inside_functions():
    cycle = find_cycle(import_graph(PACKAGE))
    assert cycle == [], "import cycle: " + " -> ".join(cycle)


def test_no_module_outside_a_network_package_decides_by_a_network_name():
    places = network_packages(PACKAGE)
    assert all(place.exists() for place in places), places
    found = network_name_decisions(PACKAGE, places)
    assert found == [], "network names compared outside the network packages:\n" + "\n".join(found)


def test_the_checks_see_what_they_look_for(tmp_path):
    """Both checks find the habits they forbid (in a tree made for it): a cycle through a
    function-local import, and the three ways of deciding by a network's name."""
    root = tmp_path / "plnfilter"
    (root / "sources" / "mastodon").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sources" / "__init__.py").write_text("")
    (root / "sources" / "mastodon" / "__init__.py").write_text('KIND = "mastodon"\nok = KIND == "mastodon"\n')
    (root / "pipeline.py").write_text("def run():\n    from plnfilter.refresh import plan\n")
    (root / "refresh.py").write_text(
        "from plnfilter import pipeline\n"
        "def plan(network):\n"
        '    if network == "mastodon":\n'
        "        return 1\n"
        '    sizes = {"bluesky": 25}\n'
        '    return network in ("file", "x") or sizes\n'
    )
    assert find_cycle(import_graph(root)) == ["plnfilter.pipeline", "plnfilter.refresh", "plnfilter.pipeline"]
    found = network_name_decisions(root, [root / "sources" / "mastodon"])
    assert found == [
        "plnfilter/refresh.py:3: 'mastodon'",
        "plnfilter/refresh.py:5: 'bluesky'",
        "plnfilter/refresh.py:6: 'file'",
    ]
