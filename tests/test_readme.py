"""The README's set-up commands and examples are the ones CI runs and they work."""

import pathlib
import re

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def fenced(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_exactly_two_setup_commands_and_ci_runs_the_test_one():
    commands = [block.strip() for block in fenced("bash")]
    assert len(commands) == 2, commands
    main_job, tests = commands
    assert "meta-bayes" in main_job
    assert "pytest" in tests and tests.startswith("pip install torch==")
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines()
    assert "ruff check" in ci
    # the line .ci/run takes from the README is the test command, not the main job's install
    pattern = re.search(r"grep -m1 '(.+?)' README.md", ci).group(1)
    picked = next(line for line in README.splitlines() if re.search(pattern, line))
    assert picked == tests


def test_python_examples_run():
    namespace = {"np": np}
    for block in fenced("python"):
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["info"]["posterior"].shape == (2,)  # the MetaCoin-v0 example
    assert abs(namespace["report"].mean_kl) < 1e-12  # the Bayes predictor against itself
    assert abs(namespace["result"].bayes_gap) < 0.5


def test_the_docs_site_shows_the_readmes_result_tables():
    """docs/study.md repeats the README's study and sweep tables: the same rows in the same order, so
    they cannot drift (the page also holds the full study's tables, which the README links)."""

    def rows(text):
        task = r"\| (coin|die|gaussian|exponential|switching|bandit)"
        return [line for line in text.splitlines() if re.match(task, line)]

    readme = rows(README)
    assert len(readme) >= 10
    docs = iter(rows((ROOT / "docs" / "study.md").read_text()))
    missing = [row for row in readme if not any(row == line for line in docs)]  # each in order, after the last
    assert not missing, missing
