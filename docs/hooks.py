"""MkDocs hooks (mkdocs.yml ``hooks:``): the pages that are generated at every build.

- One page per environment id of ``meta_envs.ENV_IDS``, and an overview table: each page is the
  env class's own docstring (a mkdocstrings ``:::`` directive), never a copy of it.
- One API reference page per public module of the packages, found by walking their folders
  (no hand-kept list: a new module gets its page at the next build). A module is public when
  no part of its dotted name starts with ``_`` (``__init__.py`` stands for its package).

In ``nav:`` of mkdocs.yml, the entries ``environments/index.md`` and ``api/index.md`` stand for
these two sections; :func:`on_config` expands each into the overview page and its generated
pages, and :func:`on_files` adds the pages themselves.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import griffe_rst  # docs/griffe_rst.py: mkdocs puts this folder on sys.path while it loads hooks
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bayes", "meta_envs", "agents", "benchmarks")
ENV_INDEX = "environments/index.md"
API_INDEX = "api/index.md"

#: src_uri -> Markdown of the generated pages (made by on_config, added by on_files)
_pages: dict[str, str] = {}


def public_modules(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """The dotted names of the public modules of ``packages`` under ``root``, sorted (a package
    before its modules)."""
    names = []
    for package in packages:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            elif not (path.parent / "__init__.py").exists():
                continue
            if any(part.startswith("_") for part in parts):
                continue
            names.append(parts)
    return [".".join(parts) for parts in sorted(names)]


def environments() -> list[tuple[str, str, str]]:
    """``(env id, env class path, vector env class path)`` of every id of ``meta_envs.ENV_IDS``."""
    import gymnasium as gym

    import meta_envs

    result = []
    for env_id in meta_envs.ENV_IDS:
        spec = gym.spec(env_id)
        result.append((env_id, spec.entry_point.replace(":", "."), spec.vector_entry_point.replace(":", ".")))
    return result


def summary(class_path: str) -> str:
    """The first paragraph of a class's docstring, on one line, as Markdown."""
    module, name = class_path.rsplit(".", 1)
    doc = inspect.getdoc(getattr(importlib.import_module(module), name)) or ""
    return griffe_rst.rst_to_markdown(" ".join(doc.split("\n\n")[0].split()))


def _env_page(env_id: str, env_class: str, vector_class: str) -> str:
    return f"""# {env_id}

```python
env = gym.make("{env_id}")
envs = gym.make_vec("{env_id}", num_envs=4096, vectorization_mode="vector_entry_point")
```

`gym.make` builds [`{env_class.rsplit(".", 1)[1]}`][{env_class}], `gym.make_vec(...,
vectorization_mode="vector_entry_point")` the native numpy vector env
[`{vector_class.rsplit(".", 1)[1]}`][{vector_class}]; keyword arguments of either are the
arguments below.

::: {env_class}
    options:
      heading_level: 2
      members: false
      show_root_full_path: false
"""


def _env_index(envs: list[tuple[str, str, str]]) -> str:
    rows = "\n".join(
        f"| [`{env_id}`]({env_id}.md) | {summary(cls).rstrip('.')} ([`{cls.rsplit('.', 1)[1]}`][{cls}], "
        f"vector: [`{vec.rsplit('.', 1)[1]}`][{vec}]) |"
        for env_id, cls, vec in envs
    )
    return f"""# Environments

Every id is registered by `import meta_envs`. Each page below is the env class's own docstring:
its spaces, rewards, `info` and arguments. `meta-bayes envs` prints the same ids with their
defaults and spaces.

| id | task family (env class, native vector env class) |
|---|---|
{rows}
"""


def _api_page(module: str) -> str:
    return f"::: {module}\n"


def _api_index(modules: list[str]) -> str:
    sections = []
    for package in PACKAGES:
        items = "\n".join(f"- [`{m}`]({m}.md)" for m in modules if m.split(".")[0] == package)
        sections.append(f"## `{package}`\n\n{items}\n")
    return "# API reference\n\nOne page per public module, generated from its docstrings.\n\n" + "\n".join(sections)


def _expand(nav: Any, sections: dict[str, list]) -> Any:
    """``nav`` with each entry named in ``sections`` replaced by its section."""
    if isinstance(nav, list):
        return [_expand(item, sections) for item in nav]
    if isinstance(nav, dict):
        return {
            title: sections[value] if isinstance(value, str) and value in sections else _expand(value, sections)
            for title, value in nav.items()
        }
    return nav


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    modules = public_modules()
    envs = environments()
    api_nav: list = [{"Overview": API_INDEX}]
    for package in PACKAGES:
        api_nav.append({package: [{m: f"api/{m}.md"} for m in modules if m.split(".")[0] == package]})
    sections = {
        ENV_INDEX: [{"Overview": ENV_INDEX}, *({env_id: f"environments/{env_id}.md"} for env_id, _, _ in envs)],
        API_INDEX: api_nav,
    }
    config.nav = _expand(config.nav, sections)
    _pages.clear()
    _pages.update({
        ENV_INDEX: _env_index(envs),
        **{f"environments/{env_id}.md": _env_page(env_id, cls, vec) for env_id, cls, vec in envs},
        API_INDEX: _api_index(modules),
        **{f"api/{m}.md": _api_page(m) for m in modules},
    })
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for src_uri, content in _pages.items():
        files.append(File.generated(config, src_uri, content=content))
    return files
