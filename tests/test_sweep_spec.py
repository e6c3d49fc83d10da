"""The SPEC of a sweep: YAML and TOML give the same grid; every bad SPEC is refused with its line and key."""

import pytest

pytest.importorskip("yaml")
pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from benchmarks.sweep_spec import SpecError, config_label, load_spec

YAML = """\
name: grid
seeds: [0, 3]
timesteps: [20480, 40960]
hyperparameters:
  net_arch: [[16], [16, 16]]
  rl2: {hidden_size: [16, 32]}
  recurrent-ppo: {lstm_hidden_size: [16, 32]}
evaluation: {episodes: 300, seed: 7, long_factor: null}
simulation: false
tasks:
  - name: b2
    env_id: MetaBandit-v0
    algos: [rl2, recurrent-ppo]
    preset: quick
  - name: b3
    env_id: MetaBandit-v0
    env_kwargs: {n_arms: 3}
    algos: [rl2]
    preset: quick
    hyperparameters: {rl2: {hidden_size: [8]}}
"""

TOML = """\
name = "grid"
seeds = [0, 3]
timesteps = [20480, 40960]
simulation = false

[hyperparameters]
net_arch = [[16], [16, 16]]
rl2 = {hidden_size = [16, 32]}
recurrent-ppo = {lstm_hidden_size = [16, 32]}

[evaluation]
episodes = 300
seed = 7

[[tasks]]
name = "b2"
env_id = "MetaBandit-v0"
algos = ["rl2", "recurrent-ppo"]
preset = "quick"

[[tasks]]
name = "b3"
env_id = "MetaBandit-v0"
env_kwargs = {n_arms = 3}
algos = ["rl2"]
preset = "quick"
hyperparameters = {rl2 = {hidden_size = [8]}}
"""


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_grid_is_every_combination_and_yaml_and_toml_agree(tmp_path):
    spec = load_spec(write(tmp_path, YAML))
    # b2: 2 algos x 2 widths x 2 net_archs x 2 budgets x 2 seeds; b3: 1 x 1 x 2 x 2 x 2
    assert len(spec.cells) == 32 + 8 and len(spec.configs) == 16 + 4
    names = [c.name for c in spec.cells]
    assert len(set(names)) == len(names)
    assert "b2-rl2-quick-hidden_size=16-net_arch=16_16-t20480-seed3" in names
    assert "b2-recurrent-ppo-quick-lstm_hidden_size=32-net_arch=16-t40960-seed0" in names
    assert "b3-rl2-quick-hidden_size=8-net_arch=16-t40960-seed0" in names
    cell = next(c for c in spec.cells if c.name == "b3-rl2-quick-hidden_size=8-net_arch=16-t40960-seed0")
    assert cell.env_kwargs == {"n_arms": 3} and cell.hyperparameters == {"hidden_size": 8, "net_arch": [16]}
    assert (cell.eval_episodes, cell.eval_seed, cell.long_factor, cell.simulation_episodes) == (300, 7, None, None)
    assert cell.threads == 1 and cell.timesteps == 40960 and cell.preset == "quick"
    # seeds innermost: the cells of one config are next to each other
    assert [c.seed for c in spec.cells[:4]] == [0, 3, 0, 3]
    toml_spec = load_spec(write(tmp_path, TOML, "spec.toml"))
    as_toml = {c.name: c for c in toml_spec.cells}
    # the YAML says long_factor: null; TOML has no null, so its long_factor is the default 5
    assert {c.name for c in spec.cells} == set(as_toml)
    for c in spec.cells:
        assert as_toml[c.name].hyperparameters == c.hyperparameters and as_toml[c.name].env_kwargs == c.env_kwargs


def test_suite_tasks_by_name_and_defaults(tmp_path):
    spec = load_spec(write(tmp_path, "seeds: 2\ntasks: [coin-bent, bandit-3arm]\n"))
    by_task = {c.task: c for c in spec.cells}
    assert by_task["coin-bent"].env_kwargs == {"prior": "bent"} and by_task["coin-bent"].algo == "supervised"
    assert by_task["bandit-3arm"].env_kwargs == {"n_arms": 3} and by_task["bandit-3arm"].algo == "rl2"
    assert by_task["coin-bent"].simulation_episodes == 600 and by_task["coin-bent"].eval_episodes == 5000
    assert spec.name == "spec" and [c.seed for c in spec.cells] == [0, 1, 0, 1]
    raw = load_spec(write(tmp_path, "tasks: [{env_id: MetaGaussianBandit-v0}, {env_id: MetaDie-v0}]\n"))
    assert [(c.task, c.algo) for c in raw.cells] == [("MetaGaussianBandit-v0", "rl2"), ("MetaDie-v0", "supervised")]


def test_long_settings_get_a_hashed_name():
    label = config_label("t", "rl2", None, {"net_arch": list(range(100))}, None)
    assert len(label) == 150 and label.startswith("t-rl2-net_arch=0_1_2")
    assert label != config_label("t", "rl2", None, {"net_arch": list(range(101))}, None)


BASE = "seeds: 1\ntimesteps: 20480\ntasks:\n  - {name: b2, env_id: MetaBandit-v0, algos: [rl2], preset: quick}\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("seeds: 1\ntasks: [bandit-2arm\n", 3, "does not parse as YAML"),
        ("seeds: 1\n  tasks: [a]\n", 2, "does not parse as YAML"),
        ("seeds: 1\nseeds: 2\ntasks: [die]\n", 2, "seeds: appears twice (first on line 1)"),
        ("seed: 1\ntasks: [die]\n", 1, "seed: unknown key"),
        ("seeds: 1\n", None, "has no tasks"),
        ("seeds: 0\ntasks: [die]\n", 1, "seeds: must be an int >= 1"),
        ("seeds: [1, 1]\ntasks: [die]\n", 1, "repeats a seed"),
        ("tasks:\n  - die\n  - dice\n", 3, "tasks[1]: unknown task 'dice'"),
        ("tasks:\n  - name: x\n    env_id: MetaDice-v0\n", 3, "tasks[0].env_id: unknown env id"),
        ("tasks:\n  - name: x\n    env_id: MetaBandit-v0\n    env_kwargs:\n      n_arms: 0\n", 5,
         "tasks[0].env_kwargs.n_arms: MetaBandit-v0 refuses its arguments"),
        ("tasks:\n  - name: x\n    env_id: MetaBandit-v0\n    colour: red\n", 4, "tasks[0].colour: unknown key"),
        ("algos: [rl2, dqn]\ntasks: [die]\n", 1, "algos[1]: unknown algorithm 'dqn'"),
        ("tasks:\n  - {name: d, env_id: MetaDie-v0, algos: [rl2]}\n", 2, "rl2 trains bandit agents"),
        ("tasks:\n  - bandit-2arm\n  - die\npreset: quick\n", 4, "preset: supervised on die: algo supervised has"),
        (BASE + "hyperparameters:\n  hiden_size: [8]\n", 6, "hyperparameters.hiden_size: unknown rl2 hyperparameter"),
        (BASE + "hyperparameters:\n  hidden_size: [8, 0]\n", 6, "hyperparameters.hidden_size: rl2 on b2:"),
        (BASE + "hyperparameters:\n  core: [lstm, gur]\n", 6, "hyperparameters.core: rl2 on b2:"),
        (BASE + "hyperparameters:\n  seed: [1, 2]\n", 6, "hyperparameters.seed: is set by the sweep"),
        (BASE + "hyperparameters:\n  lr: []\n", 6, "is an empty list"),
        (BASE.replace("timesteps: 20480", "timesteps: [20480, 0]"), 2, "timesteps[1]: must be an int >= 1"),
        (BASE + "evaluation: {episodes: 1}\n", 5, "evaluation.episodes: must be an int >= 2"),
        (BASE + "evaluation: {episode: 10}\n", 5, "evaluation.episode: unknown key"),
        (BASE + "simulation: {episodes: 2}\n", 5, "simulation.episodes: must be an int >= 4"),
        (BASE + "threads: 0\n", 5, "threads: must be an int >= 1"),
        ("tasks:\n  - {name: a, env_id: MetaDie-v0}\n  - {name: a, env_id: MetaCoin-v0}\n", 3,
         "a second task named 'a'"),
        ("tasks:\n  - {name: 'a b', env_id: MetaDie-v0}\n", 2, "tasks[0].name: must be a name"),
        ("- die\n", 1, "a SPEC is a mapping"),
    ],
)
def test_a_bad_yaml_spec_names_its_line_and_key(tmp_path, text, line, message):
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text))
    assert message in str(info.value)
    assert info.value.line == line
    if line is not None:
        assert f"spec.yaml, line {line}:" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('seeds = 1\ntasks = ["die"\n', 2, "does not parse as TOML"),
        ('seeds = 1\ntasks = ["die"]]\n', 2, "does not parse as TOML"),
        ('seeds = 1\ncolour = "red"\ntasks = ["die"]\n', 2, "colour: unknown key"),
        ('tasks = ["die"]\n[evaluation]\nepisodes = 10\nseeds = 2\n', 4, "evaluation.seeds: unknown key"),
        ('[[tasks]]\nname = "die"\n[[tasks]]\nname = "b"\nenv_id = "MetaBandit-v0"\nenv_kwargs = {horizon = 0}\n', 6,
         "tasks[1].env_kwargs.horizon: MetaBandit-v0 refuses"),
        ('[[tasks]]\nname = "die"\n[[tasks]]\nname = "b"\nenv_id = "MetaBandit-v0"\n[tasks.hyperparameters]\n'
         'gamma = [0.9, 2.0]\n', 7, "tasks[1].hyperparameters.gamma: rl2 on b:"),
    ],
)
def test_a_bad_toml_spec_names_its_line_and_key(tmp_path, text, line, message):
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text, "spec.toml"))
    assert message in str(info.value)
    assert info.value.line == line


def test_files_that_are_not_specs(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match=r"a SPEC is a \.yaml, \.yml or \.toml file, got '\.json'"):
        load_spec(write(tmp_path, "{}", "spec.json"))


def test_the_shipped_and_the_documented_spec_are_valid_and_agree(tmp_path):
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    shipped = load_spec(root / "examples" / "sweep.yaml")
    assert len(shipped.cells) == 6 and all(c.timesteps == 8_192_000 for c in shipped.cells)
    block = re.search(r"```yaml\n(.*?)```", (root / "README.md").read_text(), re.S).group(1)
    documented = load_spec(write(tmp_path, block, "sweep.yaml"))
    assert [c.as_dict() for c in documented.cells] == [c.as_dict() for c in shipped.cells]
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, block.replace("hidden_size", "hiden_size"), "sweep.yaml"))
    assert "sweep.yaml, line 7: hyperparameters.rl2.hiden_size: unknown rl2 hyperparameter; known: [" in str(info.value)
