"""The layers' import rule, read from the source: bayes <- meta_envs <- agents <- benchmarks, a CLI
that no library module imports, and no import circle between the files of a package."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("bayes", "meta_envs", "agents", "benchmarks")
LAYER = {name: i for i, name in enumerate(PACKAGES)}


def modules():
    """``{module name: path}`` of every module of the four packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path, known):
    """The project modules that ``path`` imports anywhere in it (top level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
    return out


def graph():
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def test_imports_go_down_the_layers_only():
    for module, targets in graph().items():
        for target in targets:
            assert LAYER[target.split(".")[0]] <= LAYER[module.split(".")[0]], f"{module} imports {target}"


def test_only_the_entry_points_import_the_cli():
    importers = {m for m, targets in graph().items() if "benchmarks.cli" in targets}
    assert importers == {"benchmarks.__main__"}


def test_no_import_circle_between_files_of_a_package():
    edges = graph()
    # a package's __init__ may name its members (bayes/__init__ re-exports the models,
    # meta_envs/__init__ imports the env modules to register them); those edges are not circles
    # of logic, so a package's own __init__ is left out of the search.
    packages = {m for m in edges if (ROOT / m.replace(".", "/") / "__init__.py").exists()}
    local = {m: {t for t in ts if t not in packages} for m, ts in edges.items() if m not in packages}

    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in local.get(node, ()):
                if nxt == start:
                    return path
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    circles = {m: cycle_from(m) for m in local}
    assert not {m: c for m, c in circles.items() if c}, circles
