"""Dependencies run one way: the library (`lth_tf`) never imports the pipelines, nothing imports in a
circle, and the training loop needs no MLflow.

Read from the source (ast), without importing anything: every `import` and `from ... import`
counts, at the top of a module, inside a function (a lazy import is still a dependency) or
under `if TYPE_CHECKING:` (a type is too). Only the entry layer, `lth_tf.api` and `lth_tf.cli`,
sits above the pipelines (and `lth_tf`'s own `__init__`, whose lazy `find_tickets` is `api`'s).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lth_tf", "pipelines")
ENTRY = ("lth_tf.api", "lth_tf.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> Dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imported(path: Path, known: Set[str]) -> Set[str]:
    """The modules `path` imports: internal ones by their module name, others by their top-level name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    out: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {name if name in known or name.split(".")[0] in PACKAGES else name.split(".")[0] for name in out}


def graph() -> Dict[str, Set[str]]:
    found = modules()
    return {name: imported(path, set(found)) for name, path in found.items()}


def is_entry(name: str) -> bool:
    return name == "lth_tf" or any(name == e or name.startswith(e + ".") for e in ENTRY)


def test_the_library_never_imports_the_pipelines():
    wrong = sorted(f"{name} imports {target}" for name, targets in graph().items()
                   if name.split(".")[0] == "lth_tf" and not is_entry(name)
                   for target in targets if target.split(".")[0] == "pipelines")
    assert not wrong, "lth_tf must not import pipelines (only lth_tf.api and lth_tf.cli may):\n" + "\n".join(wrong)


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one module (Tarjan), each a cycle's members."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in edges:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_in_a_circle():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def closure(edges: Dict[str, Set[str]], start: str) -> Set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(edges.get(node, ()))
    return seen


def test_training_runs_without_mlflow():
    """The loop reports to a hook (`lth_tf.training.hooks`); MLflow implements it in `lth_tf.tracking.hook`."""
    edges = graph()
    reached = {name: closure(edges, name) for name in edges if name.startswith("lth_tf.training.loop")}
    wrong = sorted(name for name, seen in reached.items() if "mlflow" in seen)
    assert not wrong, f"these training modules reach MLflow: {', '.join(wrong)}"
