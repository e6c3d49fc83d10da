"""Evaluation under a shifted task distribution: the agent against two Bayes agents on the same episodes.

Independent truth: a Bayes agent of one prior, evaluated as "the agent", is at KL 0 (or a
paired return difference of exactly 0) from the Bayes reference of that prior and nowhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.evaluation import bandit_summary, evaluate_run, predictor_summary, shifted_env_kwargs, summary_line
from bayes.bandits import BayesOptimalPolicy
from bayes.evaluate import evaluate_predictor, evaluate_predictor_references
from bayes.models import BetaBernoulli, DirichletCategorical
from bayes.predictors import BayesPredictor
from benchmarks import cli
from benchmarks.cells import Cell, cell_finished, read_record, record_path


@dataclass
class _Config:  # what the summaries read of a run's config
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str = "test"


def test_a_reference_other_than_the_env_prior_is_what_the_kl_measures():
    fair, bent = BetaBernoulli(20.0, 20.0), BetaBernoulli(0.2, 0.2)
    agent = BayesPredictor(fair)  # Bayes under the fair prior, evaluated on bent coins
    on_bent = evaluate_predictor(agent, bent, horizon=12, n_episodes=3000, seed=4)
    to_fair = evaluate_predictor(agent, bent, horizon=12, n_episodes=3000, seed=4, reference=fair)
    assert np.all(to_fair.kl == 0.0)
    assert on_bent.mean_kl > 0.1  # the fair predictor on bent coins is far from Bayes under the bent prior
    # the same episodes: the agent's log-loss is one number, and the fair reference's equals it
    assert to_fair.total_log_loss == on_bent.total_log_loss
    np.testing.assert_allclose(to_fair.bayes_log_loss, to_fair.log_loss, rtol=0, atol=1e-12)
    both = evaluate_predictor_references(agent, bent, {"fair": fair, "bent": bent}, 12, 3000, 4)
    np.testing.assert_array_equal(both["fair"].kl, to_fair.kl)
    np.testing.assert_array_equal(both["bent"].kl, on_bent.kl)
    # the default reference is the env's model
    np.testing.assert_array_equal(evaluate_predictor(agent, bent, 12, 3000, 4, reference=bent).kl, on_bent.kl)


def test_a_reference_must_predict_the_same_outcomes():
    with pytest.raises(ValueError, match="predicts other outcomes"):
        evaluate_predictor(BayesPredictor(BetaBernoulli(1, 1)), BetaBernoulli(1, 1), 5, 10,
                           reference=DirichletCategorical([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="at least one"):
        evaluate_predictor_references(BayesPredictor(BetaBernoulli(1, 1)), BetaBernoulli(1, 1), {}, 5, 10)


def test_predictor_summary_with_both_references():
    agent = BayesPredictor(BetaBernoulli(0.2, 0.2))  # Bayes under the bent prior
    config = _Config("MetaCoin-v0", {"prior": "fair"})
    summary = predictor_summary(agent, config, 2000, None, 1, trained_kwargs={"prior": "bent"})
    refs = summary["bayes_references"]
    assert refs["training"]["mean_kl"] == 0.0 and refs["training"]["env_kwargs"] == {"prior": "bent"}
    assert refs["evaluation"]["mean_kl"] == summary["mean_kl"] > 0.01
    assert refs["training"]["bayes_log_loss"] == pytest.approx(summary["log_loss"], abs=1e-9)
    assert refs["evaluation"]["bayes_log_loss"] < summary["log_loss"]  # Bayes under the true prior codes best


def test_bandit_summary_pairs_with_both_bayes_policies():
    trained = {"prior": (1.0, 1.0)}
    agent = BayesOptimalPolicy(2, 20, np.array([[1.0, 1.0], [1.0, 1.0]]))  # Bayes under the training prior
    config = _Config("MetaBandit-v0", {"prior": [[3.0, 1.0], [1.0, 3.0]]})
    summary = bandit_summary(agent, config, 3000, None, 2, references=False, trained_kwargs=trained)
    refs = summary["bayes_references"]
    assert refs["training"]["policy"] == refs["evaluation"]["policy"] == "bayes-optimal"
    assert refs["training"]["difference"] == 0.0 and refs["training"]["stderr"] == 0.0
    # Bayes under the skewed prior knows arm 0 is a priori better: more return on the same episodes
    assert refs["evaluation"]["difference"] < -3 * refs["evaluation"]["stderr"]
    assert refs["evaluation"]["return"] == pytest.approx(summary["bayes_optimal_return"], abs=4 * summary["stderr"])


def test_shifted_env_kwargs_refuses_unknown_keys_bad_values_and_other_spaces():
    assert shifted_env_kwargs("MetaCoin-v0", {"prior": "fair"}, {"prior": "bent"}) == {"prior": "bent"}
    assert shifted_env_kwargs("MetaBandit-v0", {}, {"horizon": 50}) == {"horizon": 50}
    with pytest.raises(ValueError, match="no argument n_flips"):
        shifted_env_kwargs("MetaCoin-v0", {}, {"n_flips": 3})
    with pytest.raises(ValueError, match="changes the observation space"):
        shifted_env_kwargs("MetaBandit-v0", {"n_arms": 2}, {"n_arms": 3})
    with pytest.raises(ValueError, match="changes the observation space"):
        shifted_env_kwargs("MetaDie-v0", {}, {"n_outcomes": 4})
    with pytest.raises(ValueError, match="prior"):
        shifted_env_kwargs("MetaCoin-v0", {}, {"prior": -1})
    # a Gaussian env's bounds follow its prior: the same shapes, so a shifted prior is evaluated
    assert shifted_env_kwargs("MetaGaussian-v0", {}, {"prior": (3.0, 1.0)}) == {"prior": (3.0, 1.0)}


@pytest.fixture(scope="module")
def coin_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("shift") / "fair"
    argv = ["train", "MetaCoin-v0", "--algo", "supervised", "--timesteps", "10240", "--set", "prior=fair",
            "--out", str(run)]
    assert cli.main(argv) == 0
    return run


def test_evaluate_set_from_the_command_line(coin_run, capsys):
    capsys.readouterr()
    assert cli.main(["evaluate", str(coin_run), "--episodes", "500", "--set", "prior=bent", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["env_kwargs"] == {"prior": "bent"} and summary["trained_env_kwargs"] == {"prior": "fair"}
    refs = summary["bayes_references"]
    assert refs["evaluation"]["mean_kl"] == summary["mean_kl"]
    assert refs["training"]["mean_kl"] != refs["evaluation"]["mean_kl"]
    # the same episodes as a plain evaluation of the shifted env: the agent's log-loss is the same
    assert summary["log_loss"] == evaluate_run(coin_run, 500, settings={"prior": "bent"})["log_loss"]
    assert "shifted from prior=fair" in summary_line(summary)
    assert cli.main(["evaluate", str(coin_run), "--episodes", "500", "--set", "prior=bent"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "Bayes under the training prior (prior=fair)" in lines[1]


@pytest.mark.parametrize("setting, message", [
    ("n_flips=3", "--set: MetaCoin-v0 has no argument n_flips"),
    ("prior=(0, 1)", "--set prior=(0, 1): prior"),
    ("horizon=0", "--set horizon=0: horizon"),
    ("render_mode=ansi", "no argument render_mode"),
])
def test_evaluate_set_bad_input_is_one_line(coin_run, setting, message, capsys):
    capsys.readouterr()
    assert cli.main(["evaluate", str(coin_run), "--set", setting]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("meta-bayes evaluate: error: ") and message in err and "\n" not in err


def test_a_record_made_before_a_cell_field_existed_is_extended(tmp_path):
    cell = Cell(name="c", task="coin-fair", env_id="MetaCoin-v0", algo="supervised", seed=0,
                shifts={"bent coins": {"prior": "bent"}})
    old = cell.as_dict()
    del old["shifts"]
    path = record_path(tmp_path, "c")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"cell": old, "training": {}, "evaluation": {}, "simulation": {}}))
    record = read_record(tmp_path, cell)
    assert not cell_finished(record, cell)  # the shifted step is still to run
    assert cell_finished({**record, "shifted": {}}, cell)
    changed = {**old, "seed": 1}
    path.write_text(json.dumps({"cell": changed}))
    with pytest.raises(ValueError, match=r"differ in \['seed'\]"):
        read_record(tmp_path, cell)
