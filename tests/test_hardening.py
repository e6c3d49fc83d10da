"""Issue 16: every valid input trains, every bad one is refused with one line before any work.

Each test here failed on the commit before the fix: a crash on a valid setting, a silent wrong
number, a traceback, a missing upper bound, a setting dropped. The Gymnasium vector API has
its own file (``test_vector_api.py``), the property-based checks of the envs theirs
(``test_properties.py``).
"""

from __future__ import annotations

import json
import time
import warnings

import gymnasium as gym
import numpy as np
import pytest

import meta_envs
from bayes.bandits.dp import BernoulliBanditDP, bayes_optimal_value, bernoulli_policy_value
from bayes.evaluate import normalised_gap
from bayes.models import BetaBernoulli, DirichletCategorical, GammaExponential, NormalKnownNoise
from bayes.validation import (
    FLOAT32_LIMIT,
    MAX_ARMS,
    MAX_HORIZON,
    MAX_OUTCOMES,
    available_cores,
    check_exponential_prior_fits_float32,
)
from benchmarks import cli

gym.register_envs(meta_envs)


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    """The command's stderr, which must be exactly one line and no traceback."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ------------------------------------------------------------------ undefined Bayes gaps


@pytest.mark.parametrize("best, random, expected", [(10.0, 10.0, None), (None, 5.0, None), (10.0, 12.0, None),
                                                     (12.0, 10.0, 0.25), (1e9, 1e9 - 1e-9, None)])
def test_a_gap_over_an_empty_span_is_undefined(best, random, expected):
    assert normalised_gap(0.5, best, random) == expected


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["n_arms=1", "horizon=1"])
def test_rl2_trains_a_bandit_where_every_policy_is_bayes_optimal(setting, tmp_path, capsys):
    """A one-armed bandit, or one pull: Bayes-optimal and random earn the same, so the gap is
    undefined (it divided by zero and lost the run); the run trains and keeps its checkpoint."""
    out = tmp_path / "run"
    argv = ["train", "MetaBandit-v0", "--algo", "rl2", "--set", setting, "--timesteps", "2000", "--hp", "num_envs=64",
            "--hp", "minibatches=4", "--hp", "eval_episodes=200", "--hp", "torch_threads=1", "--out", str(out)]
    assert cli.main(argv) == 0
    assert "(paired n/a)" in capsys.readouterr().err
    assert (out / "checkpoint.pt").is_file()
    assert cli.main(["evaluate", str(out), "--episodes", "200", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bayes_gap"] is None
    assert summary["bayes_optimal_return"] == pytest.approx(summary["random_return"])


# ------------------------------------------------------------ priors and tasks in range


@pytest.mark.parametrize("env_id", ["MetaBandit-v0", "MetaCoin-v0", "MetaExponential-v0"])
def test_priors_whose_sums_overflow_are_refused_by_name(env_id):
    """(1e308, 1e308) was accepted and the predictive came out 0 instead of 0.5."""
    with pytest.raises(ValueError, match=r"^prior must have entries of magnitude at most 1e\+100"):
        gym.make(env_id, prior=(1e308, 1e308))
    env = gym.make(env_id, prior=(1e100, 1e100))  # the largest accepted: exact arithmetic still
    env.reset(seed=0)
    if env_id != "MetaExponential-v0":
        np.testing.assert_allclose(env.unwrapped.bayes_predictive(), 0.5)


def test_the_python_api_refuses_the_same_priors():
    with pytest.raises(ValueError, match="prior must have entries of magnitude"):
        bayes_optimal_value(2, 20, (1e308, 1e308))
    assert bayes_optimal_value(2, 20, (1e100, 1e100)) == pytest.approx(10.0)
    for build in (lambda: BetaBernoulli(1e308, 1.0), lambda: GammaExponential(1.0, 1e200),
                  lambda: NormalKnownNoise(1e200, 1.0, 1.0), lambda: DirichletCategorical([1.0, 1e300])):
        with pytest.raises(ValueError, match=r"magnitude at most 1e\+100|must lie in"):
            build()


@pytest.mark.parametrize("env_id, task", [("MetaGaussianBandit-v0", [1e300, 0.5]), ("MetaGaussian-v0", 1e300),
                                          ("MetaGaussian-v0", -1e38), ("MetaExponential-v0", 1e-300)])
def test_given_tasks_get_the_range_check_of_the_constructor(env_id, task):
    """reset(options={"task": ...}) skipped the float32 check: observations held inf."""
    env = gym.make(env_id)
    with pytest.raises(ValueError, match=r'^options\["task"\]'):
        env.reset(seed=0, options={"task": task})
    vector = gym.make_vec(env_id, 3)
    with pytest.raises(ValueError, match=r'^options\["task"\]'):
        vector.reset(seed=0, options={"task": task})
    vector.reset(seed=0)
    with pytest.raises(ValueError, match=r'^options\["task"\]'):
        vector.reset(options={"task": task, "reset_mask": np.array([True, False, True])})


@pytest.mark.parametrize("env_id, task", [("MetaGaussianBandit-v0", [1e30, -1e30]), ("MetaGaussian-v0", 1e30),
                                          ("MetaExponential-v0", 1e-30), ("MetaExponential-v0", 1e300)])
def test_extreme_tasks_that_fit_give_finite_observations_inside_the_space(env_id, task):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0, options={"task": task})
    for _ in range(5):
        obs, reward, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and np.isfinite(reward)


@pytest.mark.parametrize("env_id", ["MetaGaussian-v0", "MetaExponential-v0", "MetaGaussianBandit-v0"])
def test_observation_bounds_are_finite(env_id):
    space = gym.make(env_id).observation_space
    assert np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))
    assert space.high.max() == np.float32(FLOAT32_LIMIT)
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gym.make(env_id).unwrapped)
    assert not [w for w in caught if "observation space" in str(w.message)]


def test_a_too_heavy_tailed_prior_says_a_probability_not_above_one():
    """The refusal read "with probability about 20"."""
    with pytest.raises(ValueError, match=r"with probability near 1 \(at most 1e-09 is allowed\)") as caught:
        check_exponential_prior_fits_float32(0.01, 1.0, 20)
    assert "about 20" not in str(caught.value)
    # 20 outcomes of Lomax(0.25, 1): one beyond the limit / 20 with probability 20 (1 + limit/20)^-0.25
    expected = 20 * (1 + FLOAT32_LIMIT / 20) ** -0.25
    with pytest.raises(ValueError, match=f"with probability about {expected:.2g} "):
        check_exponential_prior_fits_float32(0.25, 1.0, 20)


# -------------------------------------------------------------------------- upper bounds


@pytest.mark.parametrize("env_id, kwargs, message", [
    ("MetaBandit-v0", {"n_arms": MAX_ARMS + 1}, "n_arms must be at most 1,000"),
    ("MetaGaussianBandit-v0", {"n_arms": 10**9}, "n_arms must be at most"),
    ("MetaDie-v0", {"n_outcomes": MAX_OUTCOMES + 1}, "n_outcomes must be at most 1,000"),
    ("MetaCoin-v0", {"horizon": MAX_HORIZON + 1}, "horizon must be at most 1,000,000"),
    ("MetaExponential-v0", {"horizon": 10**12}, "horizon must be at most"),
])
def test_env_sizes_are_bounded(env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **kwargs)


def test_vector_envs_refuse_more_envs_than_fit_before_allocating():
    start = time.perf_counter()
    with pytest.raises(ValueError, match="num_envs must be at most 1,048,576"):
        gym.make_vec("MetaBandit-v0", 10**9)
    with pytest.raises(ValueError, match=r"would hold 4,196,401,152 numbers, more than 268,435,456; use at most "
                                         r"67,075 envs"):
        gym.make_vec("MetaBandit-v0", 2**20, n_arms=1000)
    assert time.perf_counter() - start < 1.0


def test_the_dp_refuses_huge_problems_in_closed_form():
    """The size check looped over the horizon: 0.18 s at 1e6 pulls, minutes at 1e9."""
    start = time.perf_counter()
    for problem in ((2, 10**9), (3, 10**9), (5, 10**6)):
        with pytest.raises(ValueError, match="the largest horizon that fits is"):
            BernoulliBanditDP(*problem)
    with pytest.raises(ValueError, match="the largest horizon that fits is"):
        bayes_optimal_value(2, 10**9)
    with pytest.raises(ValueError, match="the largest horizon that fits is"):
        bernoulli_policy_value(None, 2, 10**9)
    assert time.perf_counter() - start < 0.05


def test_the_dp_largest_horizon_is_the_largest_that_fits():
    for arms, budget in ((2, 10**6), (3, 10**7), (4, 10**8)):
        largest = BernoulliBanditDP.largest_horizon(arms, budget)
        assert BernoulliBanditDP.table_bytes(arms, largest) <= budget < BernoulliBanditDP.table_bytes(arms, largest + 1)


@pytest.mark.parametrize("hp, message", [
    ("hidden_size=10000000", "hidden_size must be at most 4,096, got 10,000,000"),
    ("num_envs=1000000000", "num_envs must be at most 1,048,576"),
    ("net_arch=[100000]", "net_arch must have at most 16 layers of at most 4,096 units"),
    ("num_envs=100000", "a batch of this config holds about 128,000,000,000 numbers"),
    ("torch_threads=1000", f"torch_threads=1000 is more than the {available_cores()} cores"),
])
def test_training_sizes_are_bounded_before_anything_is_allocated(hp, message, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "MetaBandit-v0", "--algo", "rl2", "--hp", hp, "--set", "horizon=20000", "--out", str(out)]
    if hp != "num_envs=100000":
        argv[argv.index("horizon=20000")] = "horizon=20"
    start = time.perf_counter()
    assert cli.main(argv) == 2
    assert time.perf_counter() - start < 5.0
    assert message in _error(capsys)
    assert not out.exists()


def test_a_supervised_batch_too_large_is_refused(tmp_path, capsys):
    argv = ["train", "MetaCoin-v0", "--algo", "supervised", "--set", "horizon=100000", "--out", str(tmp_path / "r")]
    assert cli.main(argv) == 2
    assert "a batch of this config holds about 1,638,400,000 numbers" in _error(capsys)


def test_yaml_alias_bombs_and_huge_seed_counts_are_refused_at_once(tmp_path, capsys):
    levels = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join([*levels, "tasks: [*a7]"]) + "\n")
    start = time.perf_counter()
    assert cli.main(["sweep", str(bomb), "--out", str(tmp_path / "out")]) == 2
    assert "expands to more than 10,000 values (nested YAML aliases?)" in _error(capsys)
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text("tasks: [coin-fair]\nseeds: 100000000\n")
    assert cli.main(["sweep", str(seeds), "--out", str(tmp_path / "out")]) == 2
    assert "seeds: must be at most 1,000, got 100,000,000" in _error(capsys)
    assert time.perf_counter() - start < 5.0
    assert not (tmp_path / "out").exists()


def test_a_grid_of_too_many_cells_is_refused(tmp_path, capsys):
    spec = tmp_path / "grid.yaml"
    spec.write_text("tasks: [coin-fair]\nseeds: 1000\nhyperparameters:\n  hidden_size: [4, 8, 16, 32, 64, 128]\n"
                    "  learning_rate: [0.001, 0.002]\n")
    assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "its grid has 12,000 cells; a sweep has at most 10,000" in _error(capsys)


# ----------------------------------------------------------------- one-line errors


@pytest.mark.parametrize("argv, message", [
    (["demo", "--seed", "-1"],
     "meta-bayes demo: error: argument --seed: expected an int in [0, 4,294,967,295], got -1"),
    (["demo", "--set", "noequals"], "meta-bayes demo: error: --set expects KEY=VALUE, got 'noequals'"),
    (["demo", "--set", "=1"], "meta-bayes demo: error: --set expects KEY=VALUE, got '=1'"),
    (["train", "MetaBandit-v0", "--algo", "rl2", "--hp", "x", "--out", "r"], "--hp expects KEY=VALUE, got 'x'"),
    (["evaluate", "r", "--episodes", "0"], "meta-bayes evaluate: error: argument --episodes: expected an int in"),
    (["evaluate", "r", "--horizon", "10000000000"], "argument --horizon: expected an int in [1, 1,000,000]"),
    (["demo", "--set", "horizon=1000000000"], "meta-bayes demo: error: horizon must be at most 1,000,000"),
    (["demo", "MetaBandit-v0", "--set", "prior=(1e308, 1e308)"], "prior must have entries of magnitude"),
    (["demo", "MetaExponential-v0", "--set", "prior=(1e308, 1e308)"], "prior must have entries of magnitude"),
])
def test_usage_and_input_errors_are_one_line_with_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    assert cli.main(argv) == 2
    assert message in _error(capsys)
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize("command", ["train", "sweep", "simulate"])
@pytest.mark.parametrize("where", ["a file", "under a file", "/proc"])
def test_an_out_that_cannot_be_a_folder_is_refused(command, where, tmp_path, capsys, run_dir):
    """train, sweep and simulate printed FileExistsError, NotADirectoryError or FileNotFoundError
    tracebacks; now one line naming the path, before any work."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    out = {"a file": afile, "under a file": afile / "sub", "/proc": "/proc/meta-bayes-test/sub"}[where]
    spec = tmp_path / "s.yaml"
    spec.write_text("tasks: [coin-fair]\n")
    argv = {"train": ["train", "MetaCoin-v0", "--algo", "supervised", "--timesteps", "100", "--out", str(out)],
            "sweep": ["sweep", str(spec), "--out", str(out)],
            "simulate": ["simulate", str(run_dir), "--episodes", "8", "--out", str(out)]}[command]
    assert cli.main(argv) == 2
    err = _error(capsys)
    assert err.startswith(f"meta-bayes {command}: error:") and str(out) in err
    assert ("is a file" in err) if where != "/proc" else ("/proc is not writable" in err)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny supervised run: one gradient step of a small predictor."""
    out = tmp_path_factory.mktemp("runs") / "coin"
    assert cli.main(["train", "MetaCoin-v0", "--algo", "supervised", "--timesteps", "100", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("damage, message", [
    ("empty", "checkpoint.pt is corrupt: it is empty"),
    ("truncated", "checkpoint.pt is corrupt: it is truncated or not a torch file"),
    ("garbage", "checkpoint.pt is corrupt: it is not a checkpoint written by meta-bayes (UnpicklingError)"),
    ("empty dict", "checkpoint.pt is corrupt or of another network (it lacks"),
    ("config list", "config.json holds a list, not a run's config"),
])
def test_a_corrupt_run_folder_says_so_and_what_to_do(damage, message, run_dir, tmp_path, capsys):
    import shutil

    import torch

    folder = tmp_path / "damaged"
    shutil.copytree(run_dir, folder)
    checkpoint = folder / "checkpoint.pt"
    if damage == "empty":
        checkpoint.write_bytes(b"")
    elif damage == "truncated":
        checkpoint.write_bytes(checkpoint.read_bytes()[:300])
    elif damage == "garbage":
        checkpoint.write_bytes(np.random.default_rng(0).bytes(3000))
    elif damage == "empty dict":
        torch.save({}, checkpoint)
    else:
        (folder / "config.json").write_text("[1, 2]")
    train = ["train", "MetaCoin-v0", "--algo", "supervised", "--timesteps", "200", "--out", str(folder)]
    for argv in (train, ["evaluate", str(folder), "--episodes", "10"]):
        assert cli.main(argv) == 2
        err = _error(capsys)
        if not (damage == "empty dict" and argv[0] == "evaluate"):
            assert message in err, err
        assert "delete the folder, or train into a new one" in err
        assert "weights_only" not in err


def test_config_json_changes_only_with_a_checkpoint(run_dir, tmp_path, capsys):
    """A rerun with another budget rewrote config.json at once, so it disagreed with the checkpoint."""
    import shutil

    from agents.predictor import PredictorConfig
    from agents.training import Session

    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    before = json.loads((folder / "config.json").read_text())
    config = PredictorConfig.from_dict({**before, "steps": before["steps"] + 5})  # a larger budget: resumable
    with Session(config, folder, log=lambda _m: None) as session:
        session.resume({}, enabled=False)
        assert json.loads((folder / "config.json").read_text()) == before
        session.save()
    assert json.loads((folder / "config.json").read_text())["steps"] == config.steps


def test_max_seconds_beside_a_budget_is_kept_and_a_negative_one_refused(tmp_path, capsys):
    from agents.registry import training_config

    assert training_config("rl2", "MetaBandit-v0", {}, 0, None, 10_000, {"max_seconds": 5.0}).max_seconds == 5.0
    assert training_config("supervised", "MetaCoin-v0", {}, 0, None, 10_000, {"max_seconds": 5.0}).max_seconds == 5.0
    argv = ["train", "MetaBandit-v0", "--algo", "rl2", "--timesteps", "100", "--hp", "max_seconds=-1", "--out",
            str(tmp_path / "r")]
    assert cli.main(argv) == 2
    assert "max_seconds must lie strictly inside (0, inf), got -1" in _error(capsys)


def test_an_unexpected_failure_is_one_line_with_exit_1_and_debug_shows_the_traceback(monkeypatch, capsys):
    import benchmarks.demo

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(benchmarks.demo, "run_demo", broken)
    assert cli.main(["demo"]) == 1
    err = _error(capsys)
    assert err.startswith("meta-bayes demo: error: ZeroDivisionError: float division by zero (a bug")
    with pytest.raises(ZeroDivisionError):
        cli.main(["--debug", "demo"])


def test_running_out_of_memory_is_one_line_with_exit_1(monkeypatch, capsys):
    import benchmarks.demo

    def hungry(*args, **kwargs):
        raise MemoryError("Unable to allocate 1.6 PiB")

    monkeypatch.setattr(benchmarks.demo, "run_demo", hungry)
    assert cli.main(["demo"]) == 1
    assert "meta-bayes demo: error: out of memory (Unable to allocate 1.6 PiB)" in _error(capsys)


# ------------------------------------------------ what the fuzzer (benchmarks.fuzz_cli) found


@pytest.mark.parametrize("content, message", [
    ("[]", "does not hold a study's or sweep's results"),
    ("null", "does not hold a study's or sweep's results"),
    ('{"results": [{}]}', "holds records that are not a study's or sweep's (KeyError"),
    ("[" * 100_000 + "]" * 100_000, "is not readable JSON (RecursionError"),
])
def test_report_of_a_broken_results_file_is_one_line(content, message, tmp_path, capsys):
    (tmp_path / "results.json").write_text(content)
    assert cli.main(["report", str(tmp_path)]) == 2
    assert message in _error(capsys)


def test_a_spec_nested_thousands_deep_is_refused(tmp_path, capsys):
    spec = tmp_path / "deep.yaml"
    spec.write_text("tasks: [coin-fair]\nhyperparameters: " + "[" * 5000 + "]" * 5000 + "\n")
    assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "nests too deeply to be a SPEC" in _error(capsys)


@pytest.mark.parametrize("extra, message", [("threads: 1000", "threads: must be at most 256, got 1,000"),
                                            ("evaluation: {episodes: 1000000000000}",
                                             "evaluation.episodes: must be at most 10,000,000")])
def test_spec_settings_that_would_fail_every_cell_are_refused_first(extra, message, tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"tasks: [coin-fair]\n{extra}\n")
    assert cli.main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert message in _error(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, message", [
    (["train", "MetaCoin-v0", "--algo", "supervised", "--out", ""], "--out) must name a folder, got an empty path"),
    (["simulate", "RUN", "--out", ""], "--out must name a folder, got an empty path"),
    (["train", "MetaCoin-v0", "--algo", "supervised", "--set", "max_episode_steps=-1", "--out", "r"],
     "MetaCoin-v0 takes the arguments ['horizon', 'log_prob_floor', 'prior'], not ['max_episode_steps']"),
    (["demo", "--set", "render_mode='human'"], "MetaBandit-v0 takes the arguments ['horizon', 'n_arms', 'prior']"),
    (["reproduce", "--seeds", "1000000000000", "--out", "s"], "--seeds must be at most 1,000, got 1,000,000,000,000"),
    (["train", "MetaCoin-v0", "--algo", "supervised", "--out", "x" * 300], "has a name longer than 255 bytes"),
])
def test_inputs_that_ran_on_or_crashed_late_are_refused(argv, message, run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(run_dir) if a == "RUN" else a for a in argv]
    assert cli.main(argv) == 2
    assert message in _error(capsys)
    assert not list(tmp_path.iterdir())
