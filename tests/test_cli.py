"""The meta-bayes command line."""

import json
import shutil
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import meta_envs
from benchmarks import cli
from benchmarks.demo import demo_agent


def test_envs_json_lists_every_id_with_defaults(capsys):
    assert cli.main(["envs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == list(meta_envs.ENV_IDS)
    bandit = rows[0]
    assert bandit["defaults"] == {"n_arms": 2, "horizon": 20, "prior": [1.0, 1.0]}
    assert bandit["info"] == {"task": [2], "posterior": [2, 2]}
    assert bandit["action_space"] == "Discrete(2)"


def test_envs_text(capsys):
    assert cli.main(["envs"]) == 0
    out = capsys.readouterr().out
    for env_id in meta_envs.ENV_IDS:
        assert env_id in out
    assert "log_prob_floor=-50.0" in out


def test_demo_prints_every_step_and_the_return(capsys):
    assert cli.main(["demo", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    steps = [line for line in lines if line.startswith("t=")]
    assert len(steps) == 20
    rewards = [float(line.split("reward=")[1].split()[0]) for line in steps]
    assert lines[-1] == f"return: {sum(rewards):.4f}"


@pytest.mark.parametrize("env_id", meta_envs.ENV_IDS)
@pytest.mark.parametrize("policy", ["bayes", "greedy", "random"])
def test_demo_runs_every_env_and_policy(env_id, policy, capsys):
    assert cli.main(["demo", env_id, "--policy", policy, "--set", "horizon=4"]) == 0
    out = capsys.readouterr().out
    assert out.count("\nt=") == 4 and f"policy={policy}" in out


def test_bayes_demo_on_the_bandit_is_the_bayes_optimal_policy():
    from bayes.bandits import BayesOptimalPolicy

    agent = demo_agent(gym.make("MetaBandit-v0", n_arms=3), "bayes")
    assert isinstance(agent, BayesOptimalPolicy) and agent.n_arms == 3


def test_demo_of_a_prediction_env_with_settings(capsys):
    assert cli.main(["demo", "MetaDie-v0", "--set", "n_outcomes=4", "--set", "horizon=5"]) == 0
    out = capsys.readouterr().out
    assert out.count("\nt=") == 5 and "return:" in out


def test_bad_settings_give_a_clear_error(capsys):
    assert cli.main(["demo", "MetaCoin-v0", "--set", "horizon=0"]) == 2
    assert "horizon" in capsys.readouterr().err
    assert cli.main(["demo", "MetaCoin-v0", "--set", "horizon"]) == 2
    assert capsys.readouterr().err == "meta-bayes demo: error: --set expects KEY=VALUE, got 'horizon'\n"
    assert cli.main(["demo", "NoSuchEnv-v0"]) == 2
    assert "meta-bayes demo: error: argument env_id: invalid choice" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = shutil.which("meta-bayes")
    command = [exe] if exe else [sys.executable, "-m", "benchmarks.cli"]
    result = subprocess.run([*command, "envs"], capture_output=True, text=True, check=True, timeout=120)
    assert "MetaBandit-v0" in result.stdout


def test_train_and_evaluate_a_predictor(tmp_path, capsys):
    pytest.importorskip("torch")
    run = str(tmp_path / "coin")
    assert cli.main(["train", "MetaCoin-v0", "--algo", "supervised", "--timesteps", "10240", "--out", run]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", run, "--episodes", "200", "--horizon", "30", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["env_id"] == "MetaCoin-v0" and summary["horizon"] == 30
    assert len(summary["kl_per_step"]) == 30
    # the mean KL per step is the mean of the per-step figures (every episode has all 30 steps)
    assert np.isclose(summary["mean_kl"], np.mean(summary["kl_per_step"]), rtol=1e-9, atol=0), summary
    assert 0 < summary["mean_kl_stderr"] < summary["mean_kl"]
    assert summary["log_loss"] >= summary["bayes_log_loss"] - 5 * summary["log_loss_stderr"]


def test_train_and_evaluate_a_bandit_agent(tmp_path, capsys):
    pytest.importorskip("sb3_contrib")
    run = str(tmp_path / "bandit")
    argv = ["train", "MetaBandit-v0", "--algo", "recurrent-ppo", "--preset", "quick", "--timesteps", "2560",
            "--seed", "3", "--out", run, "--no-progress"]
    assert cli.main(argv) == 0
    assert "the run is in" in capsys.readouterr().err
    assert cli.main(["evaluate", run, "--episodes", "300", "--horizon", "30", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["algo"] == "recurrent-ppo" and summary["horizon"] == 30 and summary["trained_horizon"] == 20
    for key in ("mean_return", "stderr", "bayes_optimal_return", "random_return", "bayes_gap"):
        assert np.isfinite(summary[key]), key
    gap = (summary["bayes_optimal_return"] - summary["mean_return"]) / (
        summary["bayes_optimal_return"] - summary["random_return"])
    assert abs(summary["bayes_gap"] - gap) < 1e-12 and summary["random_return"] == 15.0
    paired = summary["paired"]
    assert paired["reference"] == "bayes-optimal"
    assert abs(paired["mean_difference"] - (summary["mean_return"] - paired["reference_return"])) < 1e-9
    assert cli.main(["evaluate", run, "--episodes", "300"]) == 0
    assert "Bayes gap" in capsys.readouterr().out


@pytest.mark.slow
def test_train_rl2_with_hyperparameters_evaluate_and_simulate(tmp_path, capsys):
    pytest.importorskip("torch")
    run = str(tmp_path / "rl2")
    argv = ["train", "MetaBandit-v0", "--algo", "rl2", "--preset", "quick", "--timesteps", "20480", "--seed", "2",
            "--hp", "core=gru", "--hp", "hidden_size=16", "--set", "n_arms=3", "--out", run, "--no-progress"]
    assert cli.main(argv) == 0
    assert "the run is in" in capsys.readouterr().err
    config = json.loads((tmp_path / "rl2" / "config.json").read_text())
    assert (config["algo"], config["core"], config["hidden_size"], config["seed"]) == ("rl2", "gru", 16, 2)
    assert config["env_kwargs"] == {"n_arms": 3} and config["timesteps"] == 20480
    assert cli.main(["evaluate", run, "--episodes", "300", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["algo"] == "rl2" and summary["paired"]["reference"] == "bayes-optimal"
    assert np.isfinite(summary["bayes_gap"]) and len(summary["regret_curve"]) == 20
    assert cli.main(["simulate", run, "--episodes", "60", "--json", "--out", str(tmp_path / "figs")]) == 0
    simulation = json.loads(capsys.readouterr().out)
    assert simulation["reference"] == "Bayes" and simulation["n_train"] == simulation["n_test"] == 30
    for key in ("bayes_in_agent", "agent_in_bayes"):
        direction = simulation[key]
        # the total variation over the held-out steps is the mean of its 20 per-step figures
        assert np.isclose(np.mean(direction["per_step_output"]), direction["output_dissimilarity"], rtol=1e-9,
                          atol=0), direction
        assert np.isfinite(direction["return_difference"]) and direction["return_stderr"] > 0, direction


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "MetaBandit-v0", "--algo", "supervised", "--out", "x"], "trains predictors"),
        (["train", "MetaCoin-v0", "--algo", "rl2", "--out", "x"], "--algo rl2 trains bandit agents"),
        (["train", "MetaBandit-v0", "--algo", "rl2", "--preset", "fast", "--out", "x"], "unknown rl2 preset 'fast'"),
        (["train", "MetaBandit-v0", "--algo", "rl2", "--hp", "core=lstm2", "--out", "x"], "core must be one of"),
        (["train", "MetaBandit-v0", "--algo", "rl2", "--hp", "cores=gru", "--out", "x"],
         "unknown rl2 config keys ['cores']"),
        (["train", "MetaBandit-v0", "--algo", "rl2", "--hp", "seed=3", "--out", "x"], "--hp cannot set ['seed']"),
        (["train", "MetaCoin-v0", "--algo", "supervised", "--hp", "hidden_size=3", "--out", "x"],
         "--hp applies to recurrent-ppo and rl2"),
        (["train", "MetaCoin-v0", "--algo", "recurrent-ppo", "--out", "x"], "trains bandit agents"),
        (["train", "MetaBandit-v0", "--algo", "recurrent-ppo", "--preset", "fast", "--out", "x"],
         "unknown RecurrentPPO preset 'fast'"),
        (["train", "MetaCoin-v0", "--algo", "supervised", "--preset", "fast", "--out", "x"], "one preset"),
        (["train", "MetaBandit-v0", "--algo", "recurrent-ppo", "--timesteps", "0", "--out", "x"], "--timesteps"),
        (["train", "MetaCoin-v0", "--algo", "supervised", "--out", "x", "--set", "horizon=0"], "horizon"),
        (["train", "MetaBandit-v0", "--algo", "recurrent-ppo", "--out", "x", "--set", "n_arms=1.5"], "n_arms"),
        (["evaluate", "no/such/run"], "no such folder"),
        (["evaluate", "."], "config.json is missing"),
        (["evaluate", ".", "--episodes", "1"], "--episodes"),
    ],
)
def test_train_and_evaluate_bad_input(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x" / "checkpoint.pt").exists()


@pytest.mark.parametrize("content", ["{not json", '{"algo": "dqn"}', '{"algo": "recurrent-ppo", "lr": 1}'])
def test_evaluate_refuses_corrupt_run_folders(content, tmp_path, capsys):
    (tmp_path / "config.json").write_text(content)
    assert cli.main(["evaluate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("meta-bayes evaluate: error:") and str(tmp_path) in err and "Traceback" not in err
    assert err.count("\n") == 1
