"""The documentation site's own code (docs/griffe_rst.py, docs/hooks.py) and docs/tuning.md.

``mkdocs build --strict`` itself runs in .ci/run; these tests pin down the reST -> Markdown
conversion on real docstring snippets, the pages the hooks generate, and that the preset tables
of docs/tuning.md are the presets of the code.
"""

import ast
import importlib.util
import pathlib
import re
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


griffe_rst = _load("griffe_rst")
hooks = _load("hooks")


def convert(text, resolve=None):
    return griffe_rst.rst_to_markdown(textwrap.dedent(text).strip("\n"), resolve)


def test_a_simple_table_with_a_header_becomes_a_markdown_table():
    # meta_envs.coin.MetaCoinEnv's observation space
    md = convert("""
        ``Box(0, 1, (3,), float32)``, all zeros at reset:

        =====  ===========================================================
        index  meaning
        =====  ===========================================================
        0      the last outcome (0 or 1)
        1      1 once an outcome has been observed (0 at reset: no outcome yet)
        2      elapsed fraction ``t / horizon``
        =====  ===========================================================
    """)
    assert md.split("\n\n")[0] == "`Box(0, 1, (3,), float32)`, all zeros at reset:"
    assert [line for line in md.splitlines() if line.startswith("|")] == [
        "| index | meaning |",
        "|---|---|",
        "| 0 | the last outcome (0 or 1) |",
        "| 1 | 1 once an outcome has been observed (0 at reset: no outcome yet) |",
        "| 2 | elapsed fraction `t / horizon` |",
    ]


def test_a_headerless_table_joins_continuation_rows_and_links_its_roles():
    # agents.recurrent_ppo's run folder
    md = convert("""
        ==========================  ==================================================================
        ``config.json``             the :class:`RecurrentPPOConfig`
        ``checkpoint.pt``           policy and optimizer tensors, timesteps, RNG states and the
                                    evaluation history: loads with ``torch.load(weights_only=True)``
        ``model.zip``               the same policy in SB3's own format for ``RecurrentPPO.load``
        ==========================  ==================================================================
    """, resolve=lambda name: f"agents.recurrent_ppo.{name}")
    assert [line for line in md.splitlines() if line.startswith("|")] == [
        "|  |  |",
        "|---|---|",
        "| `config.json` | the [`RecurrentPPOConfig`][agents.recurrent_ppo.RecurrentPPOConfig] |",
        "| `checkpoint.pt` | policy and optimizer tensors, timesteps, RNG states and the evaluation history: "
        "loads with `torch.load(weights_only=True)` |",
        "| `model.zip` | the same policy in SB3's own format for `RecurrentPPO.load` |",
    ]


def test_a_cell_that_runs_past_its_ruler_stays_whole():
    # agents.registry: the middle cell of the second row is wider than its ruler
    md = convert("""
        =================  =========================  ==========================================
        ``algo``           module                     trains
        =================  =========================  ==========================================
        ``recurrent-ppo``  :mod:`agents.recurrent_ppo`  sb3-contrib RecurrentPPO bandit agents
        =================  =========================  ==========================================
    """)
    assert md.splitlines()[3] == (
        "| `recurrent-ppo` | [`agents.recurrent_ppo`][agents.recurrent_ppo] | sb3-contrib RecurrentPPO bandit agents |"
    )


def test_roles_become_cross_references_code_or_math():
    md = convert("""
        A :class:`~agents.rl2.RL2Config`, :mod:`bayes.models` and
        :func:`os.replace`; a bias :math:`\\theta \\sim \\mathrm{Beta}(\\alpha, \\beta)`;
        :meth:`the posterior <bayes.bandits.base.GaussianPolicy.posterior>`.
    """)
    assert md == (
        "A [`RL2Config`][agents.rl2.RL2Config], [`bayes.models`][bayes.models] and\n"
        "`os.replace`; a bias $\\theta \\sim \\mathrm{Beta}(\\alpha, \\beta)$;\n"
        "[`the posterior`][bayes.bandits.base.GaussianPolicy.posterior]."
    )
    # a bare name is resolved in the docstring's scope; None: not documented, shown as code
    scope = {"PRESETS": "agents.rl2.PRESETS"}
    assert convert(":data:`PRESETS` and :data:`_private`", scope.get) == (
        "[`PRESETS`][agents.rl2.PRESETS] and `_private`"
    )


def test_a_literal_block_becomes_a_fenced_block_in_its_language():
    # meta_envs.bandit.MetaBanditEnv
    md = convert("""
        Example::

            >>> env = gym.make("MetaBandit-v0", n_arms=3, prior=(2.0, 2.0))
            >>> info["posterior"].shape
            (3, 2)
    """)
    assert md == textwrap.dedent("""\
        Example:

        ```pycon
        >>> env = gym.make("MetaBandit-v0", n_arms=3, prior=(2.0, 2.0))
        >>> info["posterior"].shape
        (3, 2)
        ```
        """)
    python = convert("""
        quiet about the otherwise unused import)::

            import meta_envs

            env = gym.make("MetaBandit-v0")

        Every id has a single env.
    """)
    assert python.splitlines() == [
        "quiet about the otherwise unused import):", "", "```python", "import meta_envs", "",
        'env = gym.make("MetaBandit-v0")', "```", "", "Every id has a single env.",
    ]
    yaml = convert("""
        A SPEC, in YAML (``.yaml``/``.yml``) or TOML (``.toml``)::

            name: widths                  # the sweep's title (default: the file's stem)
            seeds: 3                      # 0, 1, 2; or a list of seeds: [0, 5, 9]
    """)
    assert yaml.splitlines()[:3] == ["A SPEC, in YAML (`.yaml`/`.yml`) or TOML (`.toml`):", "", "```text"]


def test_math_blocks_become_display_math():
    md = convert("""
        satisfies

        .. math::

            W(a, b) = \\max\\bigl(\\lambda,\\ C(a, b)\\bigr), \\qquad
            C(a, b) = (1 - \\gamma)\\, p

        The Gittins index
    """)
    assert md.splitlines() == [
        "satisfies", "", "$$", "W(a, b) = \\max\\bigl(\\lambda,\\ C(a, b)\\bigr), \\qquad",
        "C(a, b) = (1 - \\gamma)\\, p", "$$", "", "The Gittins index",
    ]
    assert convert(".. math:: r_t = \\max(\\log q_{a_t}(x_t), \\text{floor})").splitlines() == [
        "$$", "r_t = \\max(\\log q_{a_t}(x_t), \\text{floor})", "$$",
    ]


def test_nested_lists_are_reindented_and_spans_over_lines_joined():
    # agents.rl2's module docstring: a code span whose second line starts with "- "
    md = convert("""
        3. **Update.**

           - ``update="a2c"``: one gradient step (no second
             forward pass): ``L = -mean(log π) + vf_coef · mean((v_t - R_t)²)
             - ent_coef · mean(H)``, ``s²`` the variance.

           Gradients are clipped to ``max_grad_norm``.
    """)
    assert md.splitlines() == [
        "3. **Update.**",
        "",
        '    - `update="a2c"`: one gradient step (no second',
        "      forward pass): `L = -mean(log π) + vf_coef · mean((v_t - R_t)²) - ent_coef · mean(H)`, "
        "`s²` the variance.",
        "",
        "    Gradients are clipped to `max_grad_norm`.",
    ]


def test_the_hooks_walk_the_packages_for_public_modules(tmp_path):
    for path in ["pkg/__init__.py", "pkg/a.py", "pkg/_private.py", "pkg/sub/__init__.py", "pkg/sub/b.py",
                 "pkg/_hidden/__init__.py", "pkg/_hidden/c.py", "pkg/data/not_a_package.py"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    assert hooks.public_modules(tmp_path, ("pkg",)) == ["pkg", "pkg.a", "pkg.sub", "pkg.sub.b"]
    modules = hooks.public_modules()
    assert {"bayes", "bayes.models", "bayes.bandits", "meta_envs.coin", "agents.rl2", "benchmarks.cli"} <= set(modules)
    assert not [m for m in modules if any(part.startswith("_") for part in m.split("."))]


def test_every_env_id_gets_a_page_of_its_class_docstring():
    import meta_envs

    envs = hooks.environments()
    assert [env_id for env_id, _, _ in envs] == list(meta_envs.ENV_IDS)
    assert ("MetaCoin-v0", "meta_envs.coin.MetaCoinEnv", "meta_envs.coin.MetaCoinVectorEnv") in envs
    page = hooks._env_page(*envs[0])
    assert f"::: {envs[0][1]}\n" in page


def _preset_table(section):
    """The first table of the ``## section`` of docs/tuning.md: {preset: {field: value}}."""
    text = (ROOT / "docs" / "tuning.md").read_text()
    body = text.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    lines = body[body.index("\n|") + 1 :].splitlines()
    table_lines = lines[: next((k for k, line in enumerate(lines) if not line.startswith("|")), len(lines))]
    rows = [line for line in table_lines if line.startswith("| ")]
    header = [cell.strip(" `") for cell in rows[0].strip("|").split("|")]
    table = {preset: {} for preset in header[1:-1]}
    for row in rows[1:]:
        cells = [cell.strip(" `") for cell in row.strip("|").split("|")]
        for preset, value in zip(header[1:-1], cells[1:-1], strict=True):
            table[preset][cells[0]] = ast.literal_eval(value)
    return table


@pytest.mark.parametrize("section, module", [("RecurrentPPO", "agents.recurrent_ppo"), ("RL²", "agents.rl2")])
def test_the_preset_tables_of_the_tuning_page_are_the_presets(section, module):
    preset_config = importlib.import_module(module).preset_config
    table = _preset_table(section)
    assert set(table) == {"MetaBandit-v0", "MetaGaussianBandit-v0", "quick"}
    for preset, settings in table.items():
        env_id = "MetaBandit-v0" if preset == "quick" else preset
        config = preset_config(preset, env_id)
        assert {name: getattr(config, name) for name in settings} == settings, preset


def test_the_tuning_page_names_no_issue():
    assert not re.search(r"issue\s*#?\d", (ROOT / "docs" / "tuning.md").read_text(), flags=re.I)
