"""The extension guide's worked examples run as they stand (a new task family, a user's agent)."""

import pathlib
import re
import sys
import types

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_extending_guide_runs_and_its_figures_hold():
    text = (ROOT / "docs" / "extending.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 8
    # the page's script is a module, importable as `extending`, as a user's trainer module is
    module = types.ModuleType("extending")
    namespace = module.__dict__
    sys.modules["extending"] = module
    from agents.registry import TRAINERS

    try:
        for block in blocks:
            exec(compile(block, "docs/extending.md", "exec"), namespace)
        check_the_trainer(namespace)
    finally:
        sys.modules.pop("extending", None)
        TRAINERS.pop("gru-coin", None)
    model = namespace["model"]
    # the model's predictive is the Gamma-Poisson negative binomial: check against its closed-form mean
    stats = np.array([[3.0, 7.0]])
    r, q = model.predictive(stats)[0]
    assert np.isclose(r * (1 - q) / q, (2.0 + 7.0) / (1.0 + 3.0))
    k = np.arange(400.0)
    assert np.isclose(np.exp(model.predictive_log_prob(model.predictive(stats), k[:, None])).sum(), 1.0)
    assert namespace["naive"].mean_kl > 0.01
    assert namespace["result"].b_simulates_a.output_dissimilarity > 1e-3


def check_the_trainer(namespace):
    """The GRU trainer of the guide: trained, evaluated, loaded and resumed through the registry."""
    from agents.bandit_eval import base_env
    from agents.registry import train
    from agents.runs import load_run
    from bayes.evaluate import evaluate_predictor
    from bayes.predictors import BayesPredictor

    summary, trained, folder = namespace["summary"], namespace["trained"], namespace["folder"]
    assert summary["algo"] == "gru-coin" and len(summary["kl_per_step"]) == 20
    assert trained["step"] == 300 and trained["train_steps"] == 300 * 128 * 20
    # far closer to Bayes than the prior predictive (0.5 whatever the flips), measured on the same episodes
    model = base_env("MetaCoin-v0", {}).model

    class PriorPredictive:
        def initial_state(self, batch_size):
            return np.zeros((batch_size, 1))

        def step(self, state, observation):
            return state, np.full((len(state), 1), 0.5)

    baseline = evaluate_predictor(PriorPredictive(), model, 20, 2000, seed=1).mean_kl
    assert summary["mean_kl"] < baseline / 10, (summary["mean_kl"], baseline)
    assert evaluate_predictor(BayesPredictor(model), model, 20, 2000, seed=1).mean_kl < 1e-12
    machine, config = load_run(folder)
    assert type(machine).__name__ == "GRUCoinMachine" and config.algo == "gru-coin"
    again = train(config, folder, log=lambda message: None)  # a finished run resumes to no new step
    assert again["step"] == 300 and again["history"] == trained["history"]
    # a budget of env steps becomes gradient steps of 128 episodes of 20 flips
    budget = namespace["training_config"]("gru-coin", "MetaCoin-v0", timesteps=128 * 20 * 7 + 1)
    assert budget.steps == 8 and budget.max_seconds is None
