"""The exact Bayes-optimal Bernoulli bandit DP against brute-force expectimax in exact fractions."""

from fractions import Fraction
from functools import cache

import gymnasium as gym
import numpy as np
import pytest

import meta_envs  # noqa: F401
from bayes.bandits import BayesOptimalPolicy, BernoulliBanditDP, bayes_optimal_value
from bayes.bandits.base import argmax_probabilities
from bayes.bandits.dp import _LayeredTable
from bayes.statemachine import StateMachine


def brute_force_value(prior, horizon, history=()):
    """Expectimax over every history of (arm, outcome) pairs, without merging any states."""
    prior = [(Fraction(a), Fraction(b)) for a, b in prior]

    @cache  # keyed by the whole history: no two histories share an entry
    def value(hist):
        if len(hist) == horizon:
            return Fraction(0)
        best = None
        for k, (a, b) in enumerate(prior):
            s = sum(1 for arm, outcome in hist if arm == k and outcome == 1)
            f = sum(1 for arm, outcome in hist if arm == k and outcome == 0)
            p = (a + s) / (a + b + s + f)
            q = p * (1 + value((*hist, (k, 1)))) + (1 - p) * value((*hist, (k, 0)))
            best = q if best is None or q > best else best
        return best

    return value(tuple(history))


@pytest.mark.parametrize(
    ("prior", "horizon"),
    [
        ([(1, 1), (1, 1)], 6),
        ([(1, 2), (3, 1)], 6),
        ([(Fraction(1, 2), Fraction(1, 2)), (2, 5)], 5),
        ([(1, 1), (1, 1), (1, 1)], 5),
        ([(1, 1), (2, 1), (1, 3)], 5),
    ],
)
def test_value_equals_brute_force_expectimax(prior, horizon):
    exact = brute_force_value(prior, horizon)
    as_float = np.array([[float(a), float(b)] for a, b in prior])
    assert bayes_optimal_value(len(prior), horizon, as_float) == pytest.approx(float(exact), rel=1e-13)
    dp = BernoulliBanditDP(len(prior), horizon, as_float)
    assert dp.root_value == pytest.approx(float(exact), rel=1e-13)


def test_q_values_after_a_history_equal_brute_force():
    prior = [(1, 2), (3, 1)]
    history = ((0, 1), (1, 0), (1, 0))  # arm 0 won once, arm 1 lost twice
    dp = BernoulliBanditDP(2, 7, np.array(prior, dtype=float))
    q = dp.q_values(np.array([[1, 0]]), np.array([[0, 2]]))[0]
    for k in range(2):
        a, b = prior[k]
        s, f = [(1, 0), (0, 2)][k]
        p = Fraction(a + s, a + b + s + f)
        win = brute_force_value(prior, 7, (*history, (k, 1)))
        lose = brute_force_value(prior, 7, (*history, (k, 0)))
        assert q[k] == pytest.approx(float(p * (1 + win) + (1 - p) * lose), rel=1e-13)


@pytest.mark.parametrize("seed", range(4))
def test_two_arm_blocks_agree_with_the_general_solver(seed):
    rng = np.random.default_rng(seed)
    prior = rng.uniform(0.3, 4.0, size=(2, 2))
    if seed == 0:
        prior[1] = prior[0]  # exchangeable arms: the half-layer path
    horizon = 12
    general = _LayeredTable(horizon, prior)
    dp = BernoulliBanditDP(2, horizon, prior)
    assert dp.root_value == pytest.approx(general.values[0][0], rel=1e-13)
    # every state of every layer
    for t in range(horizon + 1):
        arms = general._decode(general.keys[t])
        s, f = general.arm_s[arms], general.arm_f[arms]
        np.testing.assert_allclose(dp.value(s, f), general.values[t], rtol=1e-13)


def test_known_values_and_monotonicity():
    # horizon 1: the better prior mean; horizon 2 with uniform priors: 1/2 + 7/12 (explore, then the winner)
    assert bayes_optimal_value(2, 1) == pytest.approx(0.5)
    assert bayes_optimal_value(2, 2) == pytest.approx(0.5 + 7 / 12)
    assert bayes_optimal_value(1, 10, (2.0, 3.0)) == pytest.approx(4.0)
    values = [bayes_optimal_value(2, t) for t in range(1, 41)]
    assert np.all(np.diff(values) > 0)
    # per-step value grows with the horizon (more time to use what was learned) ...
    assert np.all(np.diff(np.array(values) / np.arange(1, 41)) >= -1e-12)
    for horizon in (5, 20, 40):
        v2, v3 = bayes_optimal_value(2, horizon), bayes_optimal_value(3, horizon)
        # ... and lies between a blind pull (E p = 1/2) and an oracle (E max of K uniforms = K / (K + 1))
        assert horizon / 2 < v2 < horizon * 2 / 3
        assert v2 < v3 < horizon * 3 / 4
    assert bayes_optimal_value(2, 20) == pytest.approx(12.4313, abs=1e-4)  # the figure the README quotes


def test_policy_is_a_state_machine_with_uniform_ties():
    policy = BayesOptimalPolicy(2, 10)
    assert isinstance(policy, StateMachine)
    state = policy.initial_state(3)
    obs = np.zeros((3, 4))
    state, probs = policy.step(state, obs)
    np.testing.assert_array_equal(probs, 0.5)  # symmetric start: a tie
    # arm 0 paid 1 in row 0, arm 1 paid 0 in row 1, arm 0 paid 0 in row 2
    obs = np.array([[1, 0, 1, 0.1], [0, 1, 0, 0.1], [1, 0, 0, 0.1]])
    new_state, probs = policy.step(state, obs)
    np.testing.assert_array_equal(new_state, [[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
    np.testing.assert_array_equal(state, 0)  # pure: the input state is unchanged
    np.testing.assert_array_equal(probs, [[1, 0], [1, 0], [0, 1]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_argmax_probabilities_ties():
    probs = argmax_probabilities(np.array([[1.0, 1.0, 0.0], [2.0, 1.0, 2.0 + 1e-15], [3.0, 2.0, 1.0]]))
    np.testing.assert_allclose(probs, [[0.5, 0.5, 0], [0.5, 0, 0.5], [1, 0, 0]])


def run_policy(policy, n_arms, horizon, prior, n_episodes, seed):
    envs = gym.make_vec(
        "MetaBandit-v0", num_envs=n_episodes, n_arms=n_arms, horizon=horizon, prior=prior,
        vectorization_mode="vector_entry_point",
    )
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed + 1)
    state = policy.initial_state(n_episodes)
    total = np.zeros(n_episodes)
    for _ in range(horizon):
        state, probs = policy.step(state, obs)
        u = rng.random((n_episodes, 1))
        actions = (u > np.cumsum(probs, axis=1)).sum(axis=1)
        obs, rewards, *_ = envs.step(actions)
        total += rewards
    return total


@pytest.mark.parametrize(("n_arms", "horizon", "prior"), [(2, 20, (1.0, 1.0)), (3, 10, [[1, 1], [2, 1], [1, 3]])])
def test_monte_carlo_return_of_the_policy_matches_its_exact_value(n_arms, horizon, prior):
    policy = BayesOptimalPolicy(n_arms, horizon, prior)
    returns = run_policy(policy, n_arms, horizon, prior, 20_000, seed=0)
    stderr = returns.std() / np.sqrt(len(returns))
    assert abs(returns.mean() - policy.dp.root_value) < 5 * stderr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_arms": 0, "horizon": 5}, "n_arms"),
        ({"n_arms": 2, "horizon": 0}, "horizon"),
        ({"n_arms": 2, "horizon": 2.5}, "horizon"),
        ({"n_arms": 2, "horizon": 5, "prior": (0.0, 1.0)}, "prior"),
        ({"n_arms": 2, "horizon": 5, "prior": [[1, 1], [1, 1], [1, 1]]}, "prior"),
        ({"n_arms": 2, "horizon": 5, "prior": (np.nan, 1.0)}, "prior"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bayes_optimal_value(**kwargs)
    with pytest.raises(ValueError, match=message):
        BayesOptimalPolicy(**kwargs)


def test_a_dp_that_does_not_fit_names_the_largest_horizon():
    with pytest.raises(ValueError, match=r"largest horizon that fits is \d+"):
        bayes_optimal_value(2, 2000, max_bytes=10**8)
    with pytest.raises(ValueError, match=r"largest horizon that fits is \d+"):
        BayesOptimalPolicy(2, 300, max_bytes=10**8)
    with pytest.raises(ValueError, match=r"largest horizon that fits is \d+"):
        BayesOptimalPolicy(4, 60, max_bytes=10**8)
    dp = BernoulliBanditDP(2, 5)
    with pytest.raises(ValueError, match="horizon"):
        dp.q_values(np.array([[3, 2]]), np.array([[0, 0]]))  # 5 pulls made: no decision left
    with pytest.raises(ValueError, match="integer"):
        dp.value(np.array([[0.5, 0]]), np.array([[0, 0]]))


# ------------------------------------------- many arms: multiset keys, bounded by memory alone


def memoised_sorted_value(n_arms, horizon, a=1.0, b=1.0):
    """A plain memoised DP over sorted tuples of (successes, failures): a second implementation,
    exchangeable arms merged by sorting, nothing shared with bayes.bandits.dp."""

    @cache
    def value(state):
        if sum(s + f for s, f in state) == horizon:
            return 0.0
        best = 0.0
        for k, (s, f) in enumerate(state):
            p = (a + s) / (a + b + s + f)
            win = tuple(sorted((*state[:k], (s + 1, f), *state[k + 1 :])))
            lose = tuple(sorted((*state[:k], (s, f + 1), *state[k + 1 :])))
            best = max(best, p * (1.0 + value(win)) + (1.0 - p) * value(lose))
        return best

    return value(tuple((0, 0) for _ in range(n_arms)))


def test_the_multiset_count_is_the_number_of_states_the_table_holds():
    for n_arms, horizon in ((3, 6), (5, 4), (7, 5), (12, 4)):
        table = _LayeredTable(horizon, np.ones((n_arms, 2)), solve=False)
        assert sum(len(keys) for keys in table.keys) == _LayeredTable.count_multisets(n_arms, horizon)
        ordered = _LayeredTable(horizon, np.ones((n_arms, 2)), merge_permutations=False, solve=False)
        assert sum(len(keys) for keys in ordered.keys) == _LayeredTable.count_states(n_arms, horizon)


@pytest.mark.parametrize(("n_arms", "horizon"), [(3, 8), (4, 7), (6, 6), (9, 5)])
def test_many_arms_agree_with_a_memoised_dp_over_sorted_counts(n_arms, horizon):
    assert bayes_optimal_value(n_arms, horizon) == pytest.approx(memoised_sorted_value(n_arms, horizon), abs=1e-12)


def test_more_arms_than_pulls_are_worth_as_much_as_one_fresh_arm_per_pull():
    """With K >= T arms at most T are ever pulled and the unpulled ones are alike: V(K, T) = V(T, T).
    Keys keep only min(K, T) digits, so 50 arms at 10 pulls (once 'too many states to index') solve
    in a blink, and so do 10 arms at 12 pulls (10-digit keys past 2^62 in the old base-A numbering)."""
    ten = bayes_optimal_value(10, 10)
    assert ten == pytest.approx(memoised_sorted_value(10, 10), abs=1e-12)
    for n_arms in (11, 25, 50):
        assert bayes_optimal_value(n_arms, 10) == pytest.approx(ten, abs=1e-12)
    wide = BernoulliBanditDP(10, 12)
    assert not wide._table.int_keys  # 91^10 > 2^62: byte-string keys
    assert wide.root_value == pytest.approx(memoised_sorted_value(10, 12), abs=1e-12)
    assert wide.root_value > bayes_optimal_value(9, 12) > bayes_optimal_value(8, 12)
    policy = BayesOptimalPolicy(50, 10)
    state = policy.initial_state(3)
    obs = np.zeros((3, 52))
    state, probs = policy.step(state, obs)
    np.testing.assert_allclose(probs, 1 / 50)  # before any pull every arm is as good as another
    obs[:, 7], obs[:, 50], obs[:, 51] = 1.0, 1.0, 0.1  # arm 7 paid 1: pull it again
    state, probs = policy.step(state, obs)
    assert np.all(probs[:, 7] == 1.0)
