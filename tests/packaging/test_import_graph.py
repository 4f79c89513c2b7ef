"""The import graph of the package (grimp, from the source, nothing imported): no cycles, and the
gate's core depends on neither the platform program nor the command line.

Imports inside functions count (they are dependencies all the same). The cycle check leaves out
imports under ``if TYPE_CHECKING:`` (they never run); the layering check keeps them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

import grimp
import pytest

CORE = ("sealgate.policy", "sealgate.inputs", "sealgate.report")
# What the core must not depend on: the Pulumi components, the gate's orchestration, the CLI.
ABOVE_THE_CORE = ("sealgate.platform", "sealgate.gate", "sealgate.cli")


def module_graph(*, exclude_type_checking_imports: bool) -> dict[str, set[str]]:
    graph = grimp.build_graph(
        "sealgate", cache_dir=None, exclude_type_checking_imports=exclude_type_checking_imports
    )
    return {
        module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules
    }


def strongly_connected_components(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; only components that contain a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    components.append(sorted(component))
    return components


def shortest_cycle(
    start: str, component: set[str], edges: Mapping[str, Iterable[str]]
) -> list[str]:
    """start -> ... -> start within one component (breadth first)."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in sorted(edges[node]):
            if successor not in component:
                continue
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if successor not in previous:
                previous[successor] = node
                queue.append(successor)
    raise AssertionError(f"{start} is on no cycle")


def rotate_to_smallest(cycle: list[str]) -> list[str]:
    """The same cycle written from its smallest module, so that each is reported once."""
    ring = cycle[:-1]
    start = ring.index(min(ring))
    ring = ring[start:] + ring[:start]
    return [*ring, ring[0]]


def test_the_algorithm_finds_cycles_and_only_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert strongly_connected_components(edges) == [["a", "b", "c"], ["e"]]
    assert shortest_cycle("a", {"a", "b", "c"}, edges) == ["a", "b", "c", "a"]
    assert rotate_to_smallest(shortest_cycle("c", {"a", "b", "c"}, edges)) == ["a", "b", "c", "a"]
    assert shortest_cycle("e", {"e"}, edges) == ["e", "e"]


def test_no_import_cycles() -> None:
    edges = module_graph(exclude_type_checking_imports=True)
    assert "sealgate.policy._embedded" in edges  # the graph is the package's
    cycles = {
        " -> ".join(rotate_to_smallest(shortest_cycle(member, set(component), edges)))
        for component in strongly_connected_components(edges)
        for member in component
    }
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))


@pytest.mark.parametrize("core", CORE)
def test_the_core_does_not_import_the_platform_or_the_cli(core: str) -> None:
    graph = grimp.build_graph("sealgate", cache_dir=None)
    chains = [
        " -> ".join(chain)
        for above in ABOVE_THE_CORE
        if above in graph.modules
        for chain in sorted(
            graph.find_shortest_chains(importer=core, imported=above, as_packages=True)
        )
    ]
    assert not chains, f"{core} depends on what sits above it:\n" + "\n".join(chains)
