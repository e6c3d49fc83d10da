"""Bernoulli baselines: their formulas on hand-made states, and Monte Carlo against exact evaluation."""

import math

import numpy as np
import pytest
from scipy import special, stats

from bayes.bandits import (
    UCB1,
    BayesOptimalPolicy,
    BayesUCB,
    GreedyPolicy,
    RandomPolicy,
    ThompsonSampling,
)
from bayes.bandits.baselines import beta_best_arm_probabilities
from bayes.bandits.dp import bernoulli_policy_value
from bayes.evaluate import evaluate_bandit_policy
from bayes.statemachine import StateMachine


def state(successes, failures):
    return np.concatenate([np.atleast_2d(successes), np.atleast_2d(failures)], axis=1).astype(float)


def prob_b_beats_a(a_a, b_a, a_b, b_b):
    """P(X_B > X_A) for Beta(a_a, b_a), Beta(a_b, b_b) with integer a_b (exact finite sum)."""
    total = 0.0
    for i in range(int(a_b)):
        log_term = special.betaln(a_a + i, b_a + b_b) - math.log(b_b + i)
        total += math.exp(log_term - special.betaln(1 + i, b_b) - special.betaln(a_a, b_a))
    return total


@pytest.mark.parametrize(
    ("alpha", "beta"), [([1, 1], [1, 1]), ([3, 1], [2, 5]), ([12, 30], [20, 40]), ([2, 7], [9, 3])]
)
def test_thompson_probabilities_two_arms_exact(alpha, beta):
    probs = beta_best_arm_probabilities(np.array([alpha], dtype=float), np.array([beta], dtype=float))[0]
    exact = prob_b_beats_a(alpha[0], beta[0], alpha[1], beta[1])
    assert probs[1] == pytest.approx(exact, abs=1e-7)
    assert probs.sum() == pytest.approx(1.0)


def test_thompson_probabilities_three_arms_monte_carlo_and_sampling():
    alpha = np.array([[2.0, 5.0, 0.5], [10.0, 10.0, 10.0]])
    beta = np.array([[3.0, 4.0, 0.5], [5.0, 5.0, 5.0]])
    probs = beta_best_arm_probabilities(alpha, beta)
    rng = np.random.default_rng(0)
    draws = rng.beta(alpha[..., None], beta[..., None], size=(2, 3, 400_000))
    freq = np.stack([(draws.argmax(axis=1) == k).mean(axis=1) for k in range(3)], axis=1)
    np.testing.assert_allclose(probs, freq, atol=5 * np.sqrt(0.25 / 400_000))
    np.testing.assert_allclose(probs[1], 1 / 3, atol=1e-7)  # three identical arms
    # sample_actions draws from the same distribution
    policy = ThompsonSampling(3, prior=(1.0, 1.0))
    s = state([[1, 4, 0]], [[2, 3, 0]])
    s = np.repeat(s, 200_000, axis=0)
    actions = policy.sample_actions(s, np.random.default_rng(1))
    expected = policy.action_probabilities(s[:1])[0]
    observed = np.bincount(actions, minlength=3) / len(actions)
    np.testing.assert_allclose(observed, expected, atol=5 * np.sqrt(0.25 / 200_000))


def test_ucb1_formula_and_unpulled_arms_first():
    policy = UCB1(3)
    probs = policy.action_probabilities(state([[1, 0, 0]], [[0, 1, 0]]))
    np.testing.assert_array_equal(probs, [[0, 0, 1]])  # arm 2 never pulled
    s, f = np.array([3.0, 1.0, 2.0]), np.array([1.0, 0.0, 4.0])
    n, t = s + f, (s + f).sum()
    index = s / n + np.sqrt(2 * np.log(t) / n)
    probs = policy.action_probabilities(state(s, f))[0]
    np.testing.assert_array_equal(probs, np.eye(3)[np.argmax(index)])
    np.testing.assert_array_equal(policy.action_probabilities(state([[0, 0, 0]], [[0, 0, 0]])), [[1 / 3] * 3])


def test_bayes_ucb_uses_the_posterior_quantile():
    policy = BayesUCB(2, prior=(1.0, 2.0))
    s, f = np.array([2.0, 0.0]), np.array([1.0, 1.0])
    t = s.sum() + f.sum() + 1
    q = stats.beta.ppf(1 - 1 / t, 1 + s, 2 + f)
    probs = policy.action_probabilities(state(s, f))[0]
    np.testing.assert_array_equal(probs, np.eye(2)[np.argmax(q)])
    horizon_policy = BayesUCB(2, c=5.0, horizon=20)
    assert horizon_policy.action_probabilities(state([0, 0], [0, 0])).shape == (1, 2)
    with pytest.raises(ValueError, match="horizon"):
        BayesUCB(2, c=1.0)
    with pytest.raises(ValueError, match="c must"):
        BayesUCB(2, c=-1.0)


def test_greedy_ties_are_uniform_and_random_is_uniform():
    greedy = GreedyPolicy(3)
    probs = greedy.action_probabilities(state([[1, 1, 0], [0, 0, 0]], [[0, 0, 3], [0, 0, 0]]))
    np.testing.assert_allclose(probs, [[0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(RandomPolicy(4).action_probabilities(np.zeros((2, 8))), 0.25)


@pytest.mark.parametrize("policy", [RandomPolicy(2), GreedyPolicy(2), ThompsonSampling(2), UCB1(2), BayesUCB(2)])
def test_state_machine_protocol_and_pure_updates(policy):
    assert isinstance(policy, StateMachine)
    s0 = policy.initial_state(2)
    obs = np.array([[0, 1, 1.0, 0.1], [1, 0, 0.0, 0.1]])
    s1, probs = policy.step(s0, obs)
    np.testing.assert_array_equal(s0, 0.0)
    assert probs.shape == (2, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    if isinstance(policy, RandomPolicy):  # counts and sums
        np.testing.assert_array_equal(s1, [[0, 1, 0, 1], [1, 0, 0, 0]])
    else:  # successes and failures
        np.testing.assert_array_equal(s1, [[0, 1, 0, 0], [0, 0, 1, 0]])


POLICIES = [
    RandomPolicy(2),
    GreedyPolicy(2),
    ThompsonSampling(2),
    UCB1(2),
    BayesUCB(2),
    BayesOptimalPolicy(2, 8),
    GreedyPolicy(3, prior=[[1, 1], [2, 1], [1, 3]]),
    ThompsonSampling(3, prior=[[1, 1], [2, 1], [1, 3]]),
]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"{p!r}-{p.n_arms}")
def test_monte_carlo_evaluation_agrees_with_exact_policy_evaluation(policy):
    horizon = 8
    prior = policy.prior if hasattr(policy, "prior") else (1.0, 1.0)
    exact = bernoulli_policy_value(policy, policy.n_arms, horizon, prior)
    result = evaluate_bandit_policy(
        policy, n_arms=policy.n_arms, horizon=horizon, prior=prior, n_episodes=40_000, seed=3
    )
    assert abs(result.mean_return - exact) < 5 * result.stderr, (result.mean_return, exact, result.stderr)


def test_exact_policy_values_are_ordered_as_theory_says():
    horizon = 10
    bayes = bernoulli_policy_value(BayesOptimalPolicy(2, horizon), 2, horizon)
    for policy in (RandomPolicy(2), GreedyPolicy(2), ThompsonSampling(2), UCB1(2), BayesUCB(2)):
        assert bernoulli_policy_value(policy, 2, horizon) <= bayes + 1e-12
    assert bernoulli_policy_value(RandomPolicy(2), 2, horizon) == pytest.approx(5.0)
