"""A Griffe extension that renders this project's reST-flavoured docstrings as Markdown.

The docstrings are written for ``help()`` and partly in reST: ``double backticks``, roles
(:class:`~agents.rl2.RL2Config`, :func:`x`, :data:`PRESETS`, :mod:`bayes.models`,
:math:`\\theta`), ``Example::`` literal blocks, ``.. math::`` blocks and simple tables
(``=====  =====`` rulers). mkdocstrings renders docstrings as Markdown, so this extension
rewrites each object's ``docstring.value`` once Griffe has loaded every package:

- ``:class:``, ``:func:``, ``:meth:``, ``:data:``, ``:attr:``, ``:mod:``, ``:exc:``, ``:obj:``
  and ``:const:`` roles become autorefs cross-references ``[`C`][a.b.C]`` when the name is, or
  resolves in the docstring's scope to, an object of this project's packages (so the strict
  build fails on a broken reference, and on a bare name that is not in scope); other dotted
  names (``os.replace``, numpy, torch, ...) become plain code.
  ``~`` shows the last component only, as in Sphinx.
- ``:math:`x``` becomes ``$x$`` and a ``.. math::`` block a ``$$`` block (pymdownx.arithmatex).
- A paragraph ending in ``::`` introduces a literal block: it becomes a fenced block
  (``pycon`` for ``>>>`` sessions, ``python`` when the block parses as Python, else ``text``).
- A simple table becomes a Markdown table (a row whose first cell is blank continues the row
  above; a table with no header ruler gets an empty header row).
- A list item's nested content indented by the width of its marker (reST's ``3. `` then three
  spaces) is re-indented to four spaces, as Python-Markdown needs.

It also gives an attribute without a docstring its Sphinx ``#:`` comment, and documents a
re-exported name only where it is defined (see :class:`RestToMarkdown`).

``rst_to_markdown(text, resolve)`` does the conversion and is what the tests check.
Not handled (none of this project's docstrings use them): grid tables, other directives
(``.. note::`` ...), field lists (``:param x:``), reST hyperlinks (```text <url>`_``),
substitutions and footnotes.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable

import griffe

__all__ = ["RestToMarkdown", "rst_to_markdown"]

#: the top-level packages whose objects the site documents (cross-references must resolve)
PACKAGES = ("bayes", "meta_envs", "agents", "benchmarks")
_REF_ROLES = {"class", "func", "meth", "data", "attr", "mod", "exc", "obj", "const"}

_ROLE = re.compile(r":(?P<role>[a-z]+):`(?P<body>[^`]+)`")
_EXPLICIT_TITLE = re.compile(r"^(?P<label>.+?)\s*<(?P<target>[^<>]+)>$")
_DOUBLE_BACKTICKS = re.compile(r"``(?P<code>.+?)``", re.S)
_RULER = re.compile(r"^(?P<indent> *)=+( +=+)+ *$")
_LIST_ITEM = re.compile(r"^(?P<marker>[-*+] |\d+\. )")
_MATH = re.compile(r"^(?P<indent> *)\.\. math::(?P<rest>.*)$")

logger = griffe.get_logger("griffe_rst")

Resolver = Callable[[str], "str | None"]


def rst_to_markdown(text: str, resolve: Resolver | None = None) -> str:
    """The Markdown of the reST-flavoured docstring ``text``.

    ``resolve(name)`` returns the full path that a role's target ``name`` stands for (``None``:
    not one of this project's objects: the name is shown as code); without it, a name is
    linked when its first component is one of :data:`PACKAGES`.
    """
    lines = text.splitlines()
    out: list[str] = []
    paragraph: list[str] = []  # prose lines, converted together: a role may span lines

    def flush() -> None:
        if paragraph:
            out.extend(_inline("\n".join(paragraph), resolve).split("\n"))
            paragraph.clear()

    i = 0
    list_indent = 0  # width of the marker of the list item we are in (0: not in a list)
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        math = _MATH.match(line)
        end = _table_end(lines, i) if _RULER.match(line) else None
        if math or end is not None or (stripped.endswith("::") and not stripped.startswith("..")):
            if not math and end is None:  # the paragraph's last line introduces a literal block
                paragraph.append(_literal_intro(line))
            flush()
            if math:
                i = _math_block(lines, i, math, out)
            elif end is not None:
                out.extend(_table(lines[i : end + 1], resolve))
                i = end + 1
            else:
                i = _literal_block(lines, i, out)
            continue
        item = _LIST_ITEM.match(line)
        if item:
            list_indent = len(item.group("marker"))
        elif stripped and not line.startswith(" "):
            list_indent = 0
        elif stripped and 0 < list_indent < 4 and line.startswith(" " * list_indent):
            line = "    " + line[list_indent:]
        if stripped:
            paragraph.append(line)
        else:
            flush()
            out.append(line)
        i += 1
    flush()
    return "\n".join(out)


def _inline(text: str, resolve: Resolver | None) -> str:
    """Roles and double backticks of prose; a span broken over lines is joined into one line
    (else a continuation line that starts with ``- `` would start a Markdown list)."""
    text = _ROLE.sub(lambda m: _role(m.group("role"), _one_line(m.group("body")), resolve), text)
    return _DOUBLE_BACKTICKS.sub(lambda m: f"`{_one_line(m.group('code'))}`", text)


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text)


def _role(role: str, body: str, resolve: Resolver | None) -> str:
    if role == "math":
        return f"${body}$"
    if role not in _REF_ROLES:
        return f"`{body}`"
    explicit = _EXPLICIT_TITLE.match(body)
    name = (explicit.group("target") if explicit else body).lstrip("~.").removesuffix("()")
    if explicit:
        label = explicit.group("label")
    else:
        label = name.rsplit(".", 1)[-1] if body.startswith("~") else name
    if resolve is not None:
        target = resolve(name)
    else:
        target = name if name.split(".")[0] in PACKAGES else None
    if target is None:
        return f"`{label}`"
    return f"[`{label}`][{target}]"


def _math_block(lines: list[str], i: int, match: re.Match, out: list[str]) -> int:
    """``.. math::`` (its formula on the same line or indented below) -> a ``$$`` block."""
    indent = match.group("indent")
    body = [match.group("rest").strip()] if match.group("rest").strip() else []
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > len(indent)):
        body.append(lines[j].strip())
        j += 1
    body = [b for b in body if b]
    out.extend([indent + "$$", *(indent + b for b in body), indent + "$$", ""])
    return j


def _literal_intro(line: str) -> str:
    """The line that ends in ``::``, as Markdown: ``Example::`` -> ``Example:``, ``text ::`` ->
    ``text``, a lone ``::`` -> nothing."""
    stripped = line.rstrip()
    if stripped.strip() == "::":
        return ""
    return stripped[:-3] if stripped.endswith(" ::") else stripped[:-1]


def _literal_block(lines: list[str], i: int, out: list[str]) -> int:
    """The indented block after ``lines[i]`` (which ends in ``::``) -> a fenced block; returns
    the index of the first line after it."""
    line = lines[i]
    base = _indent(line)
    j = i + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    start = j
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
        j += 1
    block = textwrap.dedent("\n".join(lines[start:j])).strip("\n")
    if not block:  # "::" with nothing indented after it: just the colon
        return j
    pad = " " * base
    out.extend(["", pad + "```" + _language(block)])
    out.extend(pad + b if b else "" for b in block.splitlines())
    out.extend([pad + "```", ""])
    return j


def _language(block: str) -> str:
    if block.lstrip().startswith(">>>"):
        return "pycon"
    try:
        tree = ast.parse(block)
    except SyntaxError:
        return "text"
    # ``key: value`` lines (YAML, a command's usage) parse as annotations: not Python
    if all(isinstance(node, ast.AnnAssign) for node in tree.body):
        return "text"
    return "python"


def _table_end(lines: list[str], i: int) -> int | None:
    """The index of the closing ruler of the simple table opened at ``lines[i]``, if any."""
    ruler = lines[i].rstrip()
    rulers = [i]
    j = i + 1
    while j < len(lines) and lines[j].strip():
        if lines[j].rstrip() == ruler:
            rulers.append(j)
        j += 1
    # the table ends at the last ruler before the next blank line (or the end)
    return rulers[-1] if len(rulers) >= 2 and rulers[-1] == j - 1 else None


def _table(lines: list[str], resolve: Resolver | None) -> list[str]:
    """A reST simple table (its lines, rulers included) -> Markdown table lines."""
    indent = _indent(lines[0])
    spans = [(m.start(), m.end()) for m in re.finditer(r"=+", lines[0])]
    rulers = [k for k, line in enumerate(lines) if line.rstrip() == lines[0].rstrip()]
    header_end = rulers[1] if len(rulers) == 3 else 0

    def split(line: str) -> list[str]:
        """The cells of a row; text that runs past its column's ruler (which reST forbids, but
        ``help()`` shows fine) stays whole: a cut inside a word moves to the next space."""
        cells, start = [], 0
        for column_start, _ in spans[1:]:
            cut = column_start
            while 0 < cut < len(line) and line[cut - 1] != " " and line[cut] != " ":
                cut += 1
            cells.append(line[start:cut].strip())
            start = cut
        return [*cells, line[start:].strip()]

    def rows(chunk: list[str]) -> list[list[str]]:
        result: list[list[str]] = []
        for line in chunk:
            cells = split(line)
            if result and not cells[0]:
                result[-1] = [f"{old} {new}".strip() for old, new in zip(result[-1], cells, strict=True)]
            else:
                result.append(cells)
        return result

    header = rows(lines[1:header_end]) if header_end else [[""] * len(spans)]
    body = rows([line for k, line in enumerate(lines) if k > header_end and k not in rulers])
    pad = " " * indent

    def md(cells: list[str]) -> str:
        return pad + "| " + " | ".join(_inline(c, resolve).replace("|", "\\|") for c in cells) + " |"

    return ["", *(md(r) for r in header), pad + "|" + "---|" * len(spans), *(md(r) for r in body), ""]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _resolver(obj: griffe.Object, collection: griffe.ModulesCollection) -> Resolver:
    """Resolve a role's target the way Python reads the name in ``obj``'s scope.

    Returns the canonical path of a documented object (public, in a public module), ``None``
    for a name outside the project or not documented (a private helper, a constant left out
    of ``__all__``), and warns (failing the strict build) for a name that does not exist.
    """

    def resolve(name: str) -> str | None:
        first, _, rest = name.partition(".")
        try:
            path = obj.resolve(first)
        except griffe.NameResolutionError:
            if not rest and first not in PACKAGES:  # a bare name must be in the docstring's scope
                logger.warning(f"{obj.path}: the docstring refers to {name!r}, which is not in its scope")
                return None
            path = first
        path += "." + rest if rest else ""
        if path.split(".")[0] not in PACKAGES:
            return None
        try:
            target = collection.get_member(path)
            target = target.final_target if target.is_alias else target
        except (KeyError, griffe.AliasResolutionError):
            logger.warning(f"{obj.path}: the docstring refers to {name!r}, which does not exist")
            return None
        node = target
        while node is not None:
            if not node.is_public:
                return None
            node = node.parent
        return target.path

    return resolve


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_walk(member))
    return found


class RestToMarkdown(griffe.Extension):
    """Prepare and rewrite the docstrings of the project's packages for mkdocstrings.

    Cross-references are checked against every package, so the work waits until all of
    :data:`PACKAGES` are loaded (mkdocs.yml preloads them). First, for every object:

    - an attribute without a docstring takes its Sphinx ``#:`` comment (the lines above it, or
      the end of its line) as its docstring; an instance attribute (``self.x = ...``) with
      neither is left out of the pages;
    - names that a module re-exports (``__all__`` entries imported from another module) are
      documented where they are defined: not rendered again, the module's docstring lists them
      with links instead.

    Then every docstring goes through :func:`rst_to_markdown`.
    """

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: object) -> None:
        collection = loader.modules_collection
        if not all(name in collection.members for name in PACKAGES):
            return
        packages = [collection.members[name] for name in PACKAGES]
        packages = [package for package in packages if not package.extra["griffe_rst"].get("converted")]
        objects = [obj for package in packages for obj in _walk(package)]
        for obj in objects:
            if obj.is_module:
                _list_reexports(obj)
            elif obj.is_attribute and obj.docstring is None:
                _comment_docstring(obj)
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = rst_to_markdown(obj.docstring.value, _resolver(obj, collection))
        for package in packages:
            package.extra["griffe_rst"]["converted"] = True


def _comment_docstring(attr: griffe.Attribute) -> None:
    """``#:`` comment lines just above ``attr`` or at the end of its line -> its docstring."""
    try:
        lines = attr.lines_collection[attr.filepath]
    except (KeyError, TypeError):
        return
    first = attr.lineno - 1  # 0-based index of the assignment's line
    comment = []
    above = first - 1
    while above >= 0 and lines[above].strip().startswith("#:"):
        comment.insert(0, lines[above].strip()[2:].strip())
        above -= 1
    if not comment and "#:" in lines[first]:
        comment = [lines[first].rsplit("#:", 1)[1].strip()]
    if comment:
        attr.docstring = griffe.Docstring("\n".join(comment), lineno=attr.lineno, parent=attr)
    elif "instance-attribute" in attr.labels:
        attr.public = False


def _list_reexports(module: griffe.Module) -> None:
    exports = [str(name) for name in module.exports or ()]
    aliases = [module.members[name] for name in exports if name in module.members and module.members[name].is_alias]
    if not aliases:
        return
    for alias in aliases:
        alias.public = False
    links = ", ".join(f":obj:`~{alias.target_path}`" for alias in aliases)
    text = f"Also importable from here (documented in their own modules): {links}."
    if module.docstring is None:
        module.docstring = griffe.Docstring(text, parent=module)
    else:
        module.docstring.value += "\n\n" + text
