"""The SPEC of a sweep: a YAML or TOML file that names a grid of cells.

A SPEC, in YAML (``.yaml``/``.yml``) or TOML (``.toml``)::

    name: widths                  # the sweep's title (default: the file's stem)
    seeds: 3                      # 0, 1, 2; or a list of seeds: [0, 5, 9]
    algos: [rl2]                  # supervised | recurrent-ppo | rl2 (default: the task's own)
    preset: quick                 # the trainer's preset (default: the env's own tuned preset)
    timesteps: [1000000, 4000000] # budgets in env steps, a grid axis (default: the preset's own)
    hyperparameters:              # each key a list of values: every combination is a config
      hidden_size: [16, 32]
      net_arch: [[64], [64, 64]]  # a list-valued setting: a list of lists
      ent_coef: 0.02              # one value
      recurrent-ppo: {lstm_hidden_size: [32]}  # under an algorithm's name: for it alone
    threads: 1                    # torch threads per cell (the default)
    evaluation: {episodes: 5000, seed: 1000, long_factor: 5}
                                  # reference: best -- past the exact DP, pair bandit agents with
                                  # the best index policy (agents.bandit_eval.REFERENCES)
    simulation: {episodes: 600}   # or false: no simulation analysis
    tasks:
      - bandit-2arm               # a task of the study (benchmarks.suite.TASKS) by name
      - name: bandit-5arm         # or an env with its arguments
        env_id: MetaBandit-v0
        env_kwargs: {n_arms: 5}
        hyperparameters: {hidden_size: [64]}   # over the top-level grid, for this task only
        timesteps: 8000000                     # so may algos and preset

The grid: every task x algo x combination of hyperparameters x budget is one *config*, and
each config runs once per seed. A cell's name spells out its config, e.g.
``bandit-2arm-rl2-quick-hidden_size=16-t1000000-seed0``, so that adding values to a grid
keeps the names (and finished results) of the cells that were already there.

Every error names the file, the line and the key (``tasks[1].hyperparameters.hiden_size``),
and comes before any job starts: a file that does not parse, an unknown key, task, algorithm,
env argument or hyperparameter, a value out of range, two cells with the same name.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

import meta_envs
from agents.bandit_eval import REFERENCES
from agents.registry import ALGOS
from bayes.validation import MAX_EPISODES, MAX_SEEDS
from benchmarks.cells import FIXED_KEYS, Cell, algo_fields, training_config

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10: the sweep extra installs tomli
    import tomli as tomllib

__all__ = ["SpecError", "SweepSpec", "load_spec", "parse_spec"]

TOP_KEYS = ("name", "tasks", "seeds", "algos", "preset", "timesteps", "hyperparameters", "threads", "evaluation",
            "simulation")
TASK_KEYS = ("name", "env_id", "env_kwargs", "algos", "preset", "timesteps", "hyperparameters")
EVALUATION_DEFAULTS: dict[str, Any] = {"episodes": 5000, "seed": 1000, "long_factor": 5, "long_episodes": None,
                                       "reference": "default"}
SIMULATION_EPISODES = 600  #: ``simulation: true``
MAX_NAME = 150  #: longer cell names end in a hash of their settings
MAX_SPEC_BYTES = 1_000_000  #: a SPEC file is read only up to this size
#: Values a YAML SPEC may expand to, aliases included: an alias bomb (nested ``*refs``) is refused
#: before it is expanded.
MAX_SPEC_VALUES = 10_000
MAX_CELLS = 10_000  #: cells of one sweep
#: torch threads of one cell (a node has more cores than this only on a Ray cluster, and a cell
#: asking for more than its node has is refused when it starts training)
MAX_THREADS = 256


class SpecError(ValueError):
    """A SPEC that cannot run: names the file, the line and the key."""

    def __init__(self, source: str, line: int | None, key: str, message: str) -> None:
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")
        self.line, self.key = line, key


KeyPath = tuple[str | int, ...]


def _key(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Lines:
    """The line of every key (and list item) of a parsed SPEC; a missing path falls back to its parent."""

    def __init__(self, source: str, lines: dict[KeyPath, int]) -> None:
        self.source, self.lines = source, lines

    def line(self, path: KeyPath) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def error(self, path: KeyPath, message: str) -> SpecError:
        return SpecError(self.source, self.line(path), _key(path), message)


# ------------------------------------------------------------------------------------- parsing


def _yaml(text: str, source: str) -> tuple[Any, _Lines]:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - the sweep extra installs it
        raise SpecError(source, None, "", 'reading a YAML SPEC needs pyyaml: pip install "meta-bayes[sweep]" '
                                          "(or write the SPEC in TOML)") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(source, None if mark is None else mark.line + 1, "",
                        f"does not parse as YAML: {problem}") from exc
    lines: dict[KeyPath, int] = {}

    visited = [0]

    def walk(n: Any, path: KeyPath) -> None:
        visited[0] += 1
        if visited[0] > MAX_SPEC_VALUES:
            raise SpecError(source, n.start_mark.line + 1, _key(path),
                            f"the SPEC expands to more than {MAX_SPEC_VALUES:,} values (nested YAML aliases?); "
                            "refused before expanding it")
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in n.value:
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise SpecError(source, line, _key((*path, key)), f"appears twice (first on line {seen[key]})")
                seen[key] = line
                lines[(*path, key)] = line
                walk(value_node, (*path, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    walk(node, ())  # every key's line, and the size of the expanded SPEC, before constructing it
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # pragma: no cover - compose above parses the same text
        raise SpecError(source, None, "", f"does not parse as YAML: {exc}") from None
    return data, _Lines(source, lines)


_BARE = r"[A-Za-z0-9_-]+"
_PART = rf"(?:{_BARE}|\"[^\"]*\"|'[^']*')"
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(_PART, dotted)]


def _toml(text: str, source: str) -> tuple[Any, _Lines]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else (len(text.splitlines()) if "end of document" in str(exc) else None)
        raise SpecError(source, line, "", f"does not parse as TOML: {exc}") from exc
    lines: dict[KeyPath, int] = {}
    arrays: dict[KeyPath, int] = {}  # the index of the last [[table]] of each array of tables
    table: KeyPath = ()

    def resolve(parts: list[str]) -> KeyPath:
        path: KeyPath = ()
        for part in parts:
            path = (*path, part)
            if path in arrays:
                path = (*path, arrays[path])
        return path

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if match := re.match(rf"^\[\[\s*({_DOTTED})\s*\]\]", line):
            parts = _parts(match.group(1))
            head = (*resolve(parts[:-1]), parts[-1])
            arrays[head] = arrays.get(head, -1) + 1
            table = (*head, arrays[head])
            lines.setdefault(head, number)
            lines[table] = number
        elif match := re.match(rf"^\[\s*({_DOTTED})\s*\]", line):
            table = resolve(_parts(match.group(1)))
            lines[table] = number
        elif match := re.match(rf"^({_DOTTED})\s*=", line):
            path = table + tuple(_parts(match.group(1)))
            lines[path] = number
            for inner in re.finditer(rf"[{{,]\s*({_DOTTED})\s*=", line[match.end():]):  # an inline table
                lines.setdefault(path + tuple(_parts(inner.group(1))), number)
    return data, _Lines(source, lines)


def read_spec(path: str | Path) -> tuple[dict[str, Any], _Lines]:
    """The parsed SPEC file and the line of each of its keys."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise SpecError(source, None, "", "no such file")
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml"):
        raise SpecError(source, None, "", f"a SPEC is a .yaml, .yml or .toml file, got {suffix or 'no suffix'!r}")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise SpecError(source, None, "", f"is {path.stat().st_size:,} bytes; a SPEC is at most {MAX_SPEC_BYTES:,}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(source, None, "", f"cannot be read as UTF-8 text ({exc})") from None
    data, lines = (_toml if suffix == ".toml" else _yaml)(text, source)
    if not isinstance(data, dict):
        raise SpecError(source, 1, "", f"a SPEC is a mapping of keys {list(TOP_KEYS)}, got {type(data).__name__}")
    return data, lines


# ---------------------------------------------------------------------------------- validation


def _int(lines: _Lines, path: KeyPath, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise lines.error(path, f"must be an int >= {low}, got {value!r}")
    if high is not None and value > high:
        raise lines.error(path, f"must be at most {high:,}, got {value:,}")
    return value


def _axis(lines: _Lines, path: KeyPath, value: Any, low: int) -> list[int | None]:
    """``timesteps``: one budget, a list of budgets, or null (the preset's own)."""
    if value is None:
        return [None]
    values = value if isinstance(value, list) else [value]
    if not values:
        raise lines.error(path, "is an empty list: give at least one value (or leave the key out)")
    out = [_int(lines, (*path, i) if isinstance(value, list) else path, v, low) for i, v in enumerate(values)]
    if len(set(out)) != len(out):
        raise lines.error(path, f"repeats a value: {values}")
    return out


def _mapping(lines: _Lines, path: KeyPath, value: Any, keys: tuple[str, ...] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise lines.error(path, f"must be a mapping, got {type(value).__name__} {value!r}")
    for key in value:
        if not isinstance(key, str):
            raise lines.error(path, f"keys must be strings, got {key!r}")
        if keys is not None and key not in keys:
            raise lines.error((*path, key), f"unknown key; known: {list(keys)}")
    return value


def _seeds(lines: _Lines, value: Any) -> list[int]:
    if isinstance(value, list):
        if not value:
            raise lines.error(("seeds",), "is an empty list")
        if len(value) > MAX_SEEDS:
            raise lines.error(("seeds",), f"lists {len(value):,} seeds; at most {MAX_SEEDS:,}")
        seeds = [_int(lines, ("seeds", i), s, 0) for i, s in enumerate(value)]
        if len(set(seeds)) != len(seeds):
            raise lines.error(("seeds",), f"repeats a seed: {value}")
        return seeds
    return list(range(_int(lines, ("seeds",), value, 1, MAX_SEEDS)))


def _algos(lines: _Lines, path: KeyPath, value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise lines.error(path, "is an empty list")
    for i, algo in enumerate(values):
        if algo not in ALGOS:
            raise lines.error((*path, i) if isinstance(value, list) else path,
                              f"unknown algorithm {algo!r}; known: {list(ALGOS)}")
    if len(set(values)) != len(values):
        raise lines.error(path, f"repeats an algorithm: {values}")
    return list(values)


Grid = dict[str, tuple[list[Any], KeyPath]]


def _grid(lines: _Lines, path: KeyPath, value: Any, algos: list[str]) -> dict[str, Grid]:
    """Per algorithm of ``algos``: hyperparameter name -> (its values, where they are written).
    A key named after an algorithm holds a grid for that algorithm only."""
    common: Grid = {}
    own: dict[str, Grid] = {algo: {} for algo in algos}
    for key, values in _mapping(lines, path, value, None).items():
        if key in ALGOS:
            if key in own:
                for name, axis in _grid(lines, (*path, key), values, [key])[key].items():
                    own[key][name] = axis
            continue
        if key in FIXED_KEYS:
            raise lines.error((*path, key), f"is set by the sweep, not a hyperparameter (use seeds, timesteps, "
                                            f"threads or the task); fixed keys: {list(FIXED_KEYS)}")
        values = values if isinstance(values, list) else [values]
        if not values:
            raise lines.error((*path, key), "is an empty list: give at least one value")
        common[key] = (values, (*path, key))
    return {algo: {**common, **own[algo]} for algo in algos}


def _slug(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    text = text.replace('"', "").replace("[", "").replace("]", "").replace("{", "").replace("}", "")
    return re.sub(r"[^A-Za-z0-9._=+-]", "_", text.replace(",", "_").replace(":", "="))


def config_label(task: str, algo: str, preset: str | None, hyperparameters: dict[str, Any],
                 timesteps: int | None) -> str:
    """The name of a config: ``task-algo[-preset][-key=value ...][-tN]`` (a hash when too long)."""
    parts = [_slug(task), algo, *([_slug(preset)] if preset else []),
             *(f"{k}={_slug(v)}" for k, v in sorted(hyperparameters.items())),
             *([f"t{timesteps}"] if timesteps is not None else [])]
    label = "-".join(parts)
    if len(label) > MAX_NAME:
        digest = hashlib.sha1(label.encode()).hexdigest()[:10]
        label = f"{label[:MAX_NAME - 11]}-{digest}"
    return label


@dataclass
class _Task:
    name: str
    env_id: str
    env_kwargs: dict[str, Any]
    algos: list[str]
    preset: str | None
    timesteps: list[int | None]
    grid: dict[str, Grid]  #: per algorithm
    path: KeyPath


def _suite() -> dict[str, Any]:
    from benchmarks.suite import TASKS

    return {t.name: t for t in TASKS}


def _default_algos(env_id: str) -> list[str]:
    from agents.bandit_eval import BANDIT_ENVS

    return ["rl2"] if env_id in BANDIT_ENVS else ["supervised"]


def _task(lines: _Lines, i: int, entry: Any, top: dict[str, Any]) -> _Task:
    path: KeyPath = ("tasks", i)
    suite = _suite()
    if isinstance(entry, str):
        entry = {"name": entry}
        if entry["name"] not in suite:
            raise lines.error(path, f"unknown task {entry['name']!r}: name a task of the study {sorted(suite)} "
                                    "or give an env_id")
    entry = _mapping(lines, path, entry, TASK_KEYS)
    known = suite.get(entry.get("name")) if "env_id" not in entry else None
    env_id = entry.get("env_id", known.env_id if known else None)
    if env_id is None:
        raise lines.error(path, f"gives neither an env_id nor the name of a task of the study {sorted(suite)}")
    if env_id not in meta_envs.ENV_IDS:
        raise lines.error((*path, "env_id"), f"unknown env id {env_id!r}; known: {list(meta_envs.ENV_IDS)}")
    env_kwargs = dict(known.env_kwargs) if known else {}
    env_kwargs.update(_mapping(lines, (*path, "env_kwargs"), entry.get("env_kwargs", {}), None))
    name = entry.get("name", env_id)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._+-]+", name):
        raise lines.error((*path, "name"), f"must be a name of letters, digits and . _ + -, got {name!r}")
    try:
        gym.make(env_id, **env_kwargs).close()
    except (TypeError, ValueError) as exc:
        bad = next((k for k in env_kwargs if k in str(exc)), None)
        raise lines.error((*path, "env_kwargs", bad) if bad else (*path, "env_kwargs"),
                          f"{env_id} refuses its arguments: {exc}") from exc
    if "algos" in entry:
        algos = _algos(lines, (*path, "algos"), entry["algos"])
    elif "algos" in top:
        algos = _algos(lines, ("algos",), top["algos"])
    else:
        algos = list(known.algos("rl2")) if known else _default_algos(env_id)
    preset = entry.get("preset", top.get("preset"))
    if preset is not None and not isinstance(preset, str):
        raise lines.error((*path, "preset") if "preset" in entry else ("preset",), f"must be a name, got {preset!r}")
    where = (*path, "timesteps") if "timesteps" in entry else ("timesteps",)
    timesteps = _axis(lines, where, entry.get("timesteps", top.get("timesteps")), 1)
    top_grid = _grid(lines, ("hyperparameters",), top.get("hyperparameters", {}), algos)
    own_grid = _grid(lines, (*path, "hyperparameters"), entry.get("hyperparameters", {}), algos)
    grid = {algo: {**top_grid[algo], **own_grid[algo]} for algo in algos}
    return _Task(name, env_id, env_kwargs, algos, preset, timesteps, grid, path)


def _options(lines: _Lines, data: dict[str, Any]) -> dict[str, Any]:
    """Threads, evaluation and simulation settings of every cell."""
    evaluation = {**EVALUATION_DEFAULTS, **_mapping(lines, ("evaluation",), data.get("evaluation", {}),
                                                    tuple(EVALUATION_DEFAULTS))}
    for key, low, high in (("episodes", 2, MAX_EPISODES), ("seed", 0, None)):
        _int(lines, ("evaluation", key), evaluation[key], low, high)
    for key, low, high in (("long_factor", 2, None), ("long_episodes", 2, MAX_EPISODES)):
        if evaluation[key] is not None:
            _int(lines, ("evaluation", key), evaluation[key], low, high)
    if evaluation["reference"] not in REFERENCES:
        raise lines.error(("evaluation", "reference"), f"must be one of {', '.join(REFERENCES)}, got "
                                                       f"{evaluation['reference']!r}")
    simulation = data.get("simulation", True)
    if simulation is None or simulation is False:
        episodes = None
    elif simulation is True:
        episodes = SIMULATION_EPISODES
    else:
        simulation = _mapping(lines, ("simulation",), simulation, ("episodes",))
        episodes = _int(lines, ("simulation", "episodes"), simulation.get("episodes", SIMULATION_EPISODES), 4)
    return {"threads": _int(lines, ("threads",), data.get("threads", 1), 1, MAX_THREADS),
            "eval_episodes": evaluation["episodes"], "eval_seed": evaluation["seed"],
            "long_factor": evaluation["long_factor"], "long_episodes": evaluation["long_episodes"],
            "reference": evaluation["reference"], "simulation_episodes": episodes}


def _check_config(lines: _Lines, task: _Task, cell: Cell, hp_paths: dict[str, KeyPath]) -> None:
    """Build the cell's training config; an error names the key it comes from."""
    unknown = sorted(set(cell.hyperparameters) - algo_fields(cell.algo))
    if unknown:
        raise lines.error(hp_paths[unknown[0]], f"unknown {cell.algo} hyperparameter; known: "
                                                f"{sorted(algo_fields(cell.algo))}")
    try:
        training_config(cell)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        named = sorted((k for k in hp_paths if re.search(rf"\b{re.escape(k)}\b", message)), key=len, reverse=True)
        if named:
            where = hp_paths[named[0]]
        elif "timesteps" in message:
            where = (*task.path, "timesteps") if (*task.path, "timesteps") in lines.lines else ("timesteps",)
        elif "preset" in message:
            where = (*task.path, "preset") if (*task.path, "preset") in lines.lines else ("preset",)
        else:
            where = task.path
        raise lines.error(where, f"{cell.algo} on {task.name}: {message}") from exc


@dataclass
class SweepSpec:
    """A validated SPEC: its title, the parsed data and the cells of its grid (seeds innermost)."""

    source: str
    name: str
    data: dict[str, Any]
    cells: list[Cell] = field(default_factory=list)

    @property
    def configs(self) -> list[str]:
        return list(dict.fromkeys(c.config for c in self.cells))


def parse_spec(data: dict[str, Any], lines: _Lines) -> SweepSpec:
    """Validate a parsed SPEC and expand its grid into cells (``SpecError`` on the first problem)."""
    _mapping(lines, (), data, TOP_KEYS)
    name = data.get("name", Path(lines.source).stem)
    if not isinstance(name, str) or not name:
        raise lines.error(("name",), f"must be a non-empty string, got {name!r}")
    if "tasks" not in data:
        raise lines.error((), "has no tasks: give a list of tasks (names of the study's tasks or env ids)")
    if not isinstance(data["tasks"], list) or not data["tasks"]:
        raise lines.error(("tasks",), f"must be a non-empty list, got {data['tasks']!r}")
    if "algos" in data:
        _algos(lines, ("algos",), data["algos"])
    seeds = _seeds(lines, data.get("seeds", 1))
    options = _options(lines, data)
    tasks = [_task(lines, i, entry, data) for i, entry in enumerate(data["tasks"])]
    names: dict[str, KeyPath] = {}
    for task in tasks:
        if task.name in names:
            raise lines.error(task.path, f"a second task named {task.name!r} (the first is "
                                         f"{_key(names[task.name])}): give each task its own name")
        names[task.name] = task.path
    total = sum(math.prod(len(values) for values, _ in task.grid[algo].values()) * len(task.timesteps)
                for task in tasks for algo in task.algos) * len(seeds)
    if total > MAX_CELLS:
        raise lines.error((), f"its grid has {total:,} cells; a sweep has at most {MAX_CELLS:,}")
    cells: list[Cell] = []
    for task in tasks:
        for algo in task.algos:
            grid = task.grid[algo]
            keys = sorted(grid)
            for values in itertools.product(*(grid[k][0] for k in keys)):
                hyperparameters = dict(zip(keys, values, strict=True))
                for timesteps in task.timesteps:
                    label = config_label(task.name, algo, task.preset, hyperparameters, timesteps)
                    for seed in seeds:
                        cells.append(Cell(name=f"{label}-seed{seed}", task=task.name, env_id=task.env_id,
                                          env_kwargs=task.env_kwargs, algo=algo, seed=seed, config=label,
                                          preset=task.preset, hyperparameters=hyperparameters, timesteps=timesteps,
                                          **options))
                    _check_config(lines, task, cells[-1], {k: grid[k][1] for k in keys})
    seen: set[str] = set()
    for cell in cells:
        if cell.name in seen:
            raise lines.error(("tasks",), f"two cells are both named {cell.name!r}: give the tasks other names")
        seen.add(cell.name)
    return SweepSpec(lines.source, name, data, cells)


def load_spec(path: str | Path) -> SweepSpec:
    """Read, validate and expand the SPEC at ``path``."""
    try:
        data, lines = read_spec(path)
        return parse_spec(data, lines)
    except RecursionError:  # a SPEC nested thousands of levels deep: no SPEC needs more than a few
        raise SpecError(str(path), None, "", "nests too deeply to be a SPEC") from None
