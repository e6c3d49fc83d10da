"""Batched rollouts record what the agent read, held and said, beside the Bayes posterior."""

import gymnasium as gym
import numpy as np
import pytest

import meta_envs  # noqa: F401
from agents.rollouts import rollout
from bayes.bandits import BayesOptimalPolicy
from bayes.evaluate import evaluate_bandit_policy, evaluate_predictor
from bayes.predictors import BayesPredictor


def test_bandit_rollout_replays_the_evaluator_and_tracks_the_posterior():
    policy = BayesOptimalPolicy(3, 10, (1.0, 2.0))
    run = rollout(policy, "MetaBandit-v0", 500, seed=7, n_arms=3, horizon=10, prior=(1.0, 2.0))
    assert run.observations.shape == (10, 500, 5) and run.states.shape == (10, 500, 6)
    assert run.outputs.shape == (10, 500, 3) and run.actions.shape == (10, 500)
    assert run.posterior.shape == (10, 500, 3, 2)
    # the same episodes as the evaluator's for the same seed (tasks, reward draws, tie-breaking)
    assert np.array_equal(run.returns, evaluate_bandit_policy(policy, 3, 10, (1.0, 2.0), 500, seed=7).returns)
    # the posterior, recomputed from the recorded actions and rewards
    successes = np.zeros((500, 3))
    failures = np.zeros((500, 3))
    rows = np.arange(500)
    assert np.array_equal(run.prior, np.broadcast_to([1.0, 2.0], (500, 3, 2)))
    for t in range(10):
        successes[rows, run.actions[t]] += run.rewards[t]
        failures[rows, run.actions[t]] += 1 - run.rewards[t]
        assert np.array_equal(run.posterior[t], np.stack([1 + successes, 2 + failures], axis=-1))
        # the Bayes machine's state is the counts it had seen when it chose: one step behind
        assert np.array_equal(run.states[t], np.concatenate([successes - run.rewards[t][:, None] * np.eye(3)[
            run.actions[t]], failures - (1 - run.rewards[t])[:, None] * np.eye(3)[run.actions[t]]], axis=1))
        assert np.allclose(run.outputs[t], policy.step(run.states[t - 1] if t else policy.initial_state(500),
                                                       run.observations[t])[1])


def test_prediction_rollout_outputs_are_the_bayes_predictive():
    model = gym.make("MetaDie-v0").unwrapped.model
    run = rollout(BayesPredictor(model), "MetaDie-v0", 300, seed=2)
    assert run.outputs.shape == (20, 300, 3) and run.posterior.shape == (20, 300, 3)
    before = np.concatenate([run.prior[None], run.posterior[:-1]])
    assert np.allclose(run.outputs, before / before.sum(axis=-1, keepdims=True))
    # the reward is the log-probability of the outcome under the output
    outcome = run.posterior - before
    assert np.allclose(run.rewards, np.log((run.outputs * outcome).sum(axis=-1)))
    evaluation = evaluate_predictor(BayesPredictor(model), model, 20, 300, seed=2)
    assert np.isclose(-run.rewards.sum(axis=0).mean(), evaluation.total_log_loss)


def test_longer_horizon_and_same_seed_same_episodes():
    model = gym.make("MetaCoin-v0").unwrapped.model
    first = rollout(BayesPredictor(model), "MetaCoin-v0", 50, seed=4, horizon=60)
    second = rollout(BayesPredictor(model), "MetaCoin-v0", 50, seed=4, horizon=60)
    assert first.horizon == 60 and first.n_episodes == 50
    assert np.array_equal(first.task, second.task) and np.array_equal(first.rewards, second.rewards)


def test_trained_network_rollout_matches_the_evaluator(tmp_path):
    pytest.importorskip("sb3_contrib")
    from agents.bandit_eval import evaluate_bandit_agent
    from agents.recurrent_ppo import RecurrentPPOConfig, RecurrentPPOMachine, build_model

    model = build_model(RecurrentPPOConfig(num_envs=4, batch_size=40, lstm_hidden_size=8, net_arch=[8]))
    machine = RecurrentPPOMachine(model.policy)
    run = rollout(machine, "MetaBandit-v0", 200, seed=5)
    assert run.states.shape == (20, 200, 16)
    assert np.array_equal(run.returns, evaluate_bandit_agent(machine, "MetaBandit-v0", {}, 200, seed=5).returns)
    state = machine.initial_state(200)
    for t in range(20):
        state, output = machine.step(state, run.observations[t])
        assert np.allclose(state, run.states[t]) and np.allclose(output, run.outputs[t])


class WrongShape:
    def initial_state(self, batch_size):
        return np.zeros((batch_size, 1))

    def step(self, state, observation):
        return state, np.ones((len(state), 5))


def test_bad_input():
    with pytest.raises(ValueError, match="env_id"):
        rollout(WrongShape(), "CartPole-v1", 10)
    with pytest.raises(ValueError, match="n_episodes"):
        rollout(WrongShape(), "MetaBandit-v0", 0)
    with pytest.raises(ValueError, match="horizon"):
        rollout(WrongShape(), "MetaBandit-v0", 3, horizon=0)
    with pytest.raises(ValueError, match=r"action probabilities of shape \(3, 2\)"):
        rollout(WrongShape(), "MetaBandit-v0", 3)
