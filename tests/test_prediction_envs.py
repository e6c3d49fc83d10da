"""The prediction envs: the Bayes predictor earns the closed-form log-likelihood; rewards stay finite."""

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest
from scipy import special, stats

import meta_envs  # noqa: F401  (registers the ids)
from meta_envs.coin import COIN_PRIORS

N_EPISODES = 20_000
HORIZON = 20


def predictive_from_posterior(env_id, posterior, noise_std=1.0):
    """The Bayes predictive as an action, computed here from ``info["posterior"]`` by hand."""
    if env_id == "MetaCoin-v0":
        return (posterior[:, :1] / posterior.sum(axis=1, keepdims=True)).astype(np.float32)
    if env_id == "MetaDie-v0":
        return (posterior / posterior.sum(axis=1, keepdims=True)).astype(np.float32)
    if env_id == "MetaGaussian-v0":
        mean, std = posterior[:, 0], posterior[:, 1]
        return np.stack([mean, np.sqrt(std**2 + noise_std**2)], axis=1).astype(np.float32)
    if env_id == "MetaExponential-v0":  # Gamma(shape, rate) posterior -> Lomax(shape, scale=rate)
        return posterior.astype(np.float32)
    raise AssertionError(env_id)


def bayes_returns(env_id, seed, **kwargs):
    envs = gym.make_vec(env_id, num_envs=N_EPISODES, horizon=HORIZON, vectorization_mode="vector_entry_point", **kwargs)
    _, info = envs.reset(seed=seed)
    total = np.zeros(N_EPISODES)
    for _ in range(HORIZON):
        action = predictive_from_posterior(env_id, info["posterior"], kwargs.get("noise_std", 1.0))
        _, rewards, terminated, _, info = envs.step(action)
        total += rewards
    assert terminated.all()
    return total


def expected_log_marginal_coin(a, b, n):
    """E[log p(x_1..n)] = sum_s BetaBinomial(s) log(B(a+s, b+n-s) / B(a, b))."""
    s = np.arange(n + 1)
    log_marginal = special.betaln(a + s, b + n - s) - special.betaln(a, b)
    return float(np.sum(stats.betabinom.pmf(s, n, a, b) * log_marginal))


def expected_log_marginal_die(alpha, n):
    """Sum over all count vectors c of DirichletMultinomial(c) * log(B(alpha + c) / B(alpha))."""
    alpha = np.asarray(alpha, dtype=float)

    def log_beta(x):
        return special.gammaln(x).sum() - special.gammaln(x.sum())

    total = 0.0
    for counts in itertools.product(range(n + 1), repeat=len(alpha) - 1):
        if sum(counts) > n:
            continue
        c = np.array([*counts, n - sum(counts)], dtype=float)
        log_seq = log_beta(alpha + c) - log_beta(alpha)  # log-probability of one sequence with counts c
        log_multinomial = special.gammaln(n + 1) - special.gammaln(c + 1).sum()
        total += math.exp(log_multinomial + log_seq) * log_seq
    return total


def expected_log_marginal_gaussian(tau, sigma, n):
    """x ~ N(mu0 1, sigma^2 I + tau^2 11^T): E[log p(x)] = -(n log 2 pi + log det + n) / 2."""
    log_det = 2 * n * math.log(sigma) + math.log1p(n * tau**2 / sigma**2)
    return -0.5 * (n * math.log(2 * math.pi) + log_det + n)


def expected_log_marginal_exponential(a, b, n):
    """p(x_1..n) = b^a Gamma(a+n) / (Gamma(a) (b+S)^(a+n)) and E[log(1 + S/b)] = psi(a+n) - psi(a)."""
    return (
        special.gammaln(a + n) - special.gammaln(a) - n * math.log(b)
        - (a + n) * (special.digamma(a + n) - special.digamma(a))
    )


CASES = [
    ("MetaCoin-v0", {"prior": "uniform"}, expected_log_marginal_coin(1.0, 1.0, HORIZON)),
    ("MetaCoin-v0", {"prior": "fair"}, expected_log_marginal_coin(*COIN_PRIORS["fair"], HORIZON)),
    ("MetaCoin-v0", {"prior": "bent"}, expected_log_marginal_coin(*COIN_PRIORS["bent"], HORIZON)),
    ("MetaCoin-v0", {"prior": (2.0, 5.0)}, expected_log_marginal_coin(2.0, 5.0, HORIZON)),
    ("MetaDie-v0", {}, expected_log_marginal_die([1.0, 1.0, 1.0], HORIZON)),
    ("MetaDie-v0", {"prior": [0.5, 2.0, 1.0]}, expected_log_marginal_die([0.5, 2.0, 1.0], HORIZON)),
    ("MetaGaussian-v0", {}, expected_log_marginal_gaussian(1.0, 1.0, HORIZON)),
    ("MetaGaussian-v0", {"prior": (3.0, 2.0), "noise_std": 0.5}, expected_log_marginal_gaussian(2.0, 0.5, HORIZON)),
    ("MetaExponential-v0", {}, expected_log_marginal_exponential(1.0, 1.0, HORIZON)),
    ("MetaExponential-v0", {"prior": (4.0, 2.0)}, expected_log_marginal_exponential(4.0, 2.0, HORIZON)),
]


@pytest.mark.parametrize(("env_id", "kwargs", "expected"), CASES)
def test_bayes_predictor_earns_the_closed_form_log_likelihood(env_id, kwargs, expected):
    returns = bayes_returns(env_id, seed=0, **kwargs)
    stderr = returns.std() / math.sqrt(len(returns))
    assert abs(returns.mean() - expected) < 5 * stderr, (returns.mean(), expected, stderr)


def test_closed_form_coin_matches_exact_enumeration():
    """Cross-check of the test's own reference: all 2^n sequences, exact fractions, for n = 8."""
    from fractions import Fraction

    a, b, n = 2, 3, 8
    exact = 0.0
    for seq in itertools.product((0, 1), repeat=n):
        p, s, f = Fraction(1), 0, 0
        for x in seq:
            p *= Fraction(a + s, a + b + s + f) if x else Fraction(b + f, a + b + s + f)
            s, f = s + x, f + 1 - x
        exact += float(p) * math.log(p)  # the marginal probability of the sequence equals its weight
    assert expected_log_marginal_coin(a, b, n) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [("MetaCoin-v0", {"prior": (2.0, 3.0)}), ("MetaDie-v0", {"prior": [1.0, 2.0, 3.0]}),
     ("MetaGaussian-v0", {"prior": (1.0, 2.0), "noise_std": 0.5}), ("MetaExponential-v0", {"prior": (2.0, 3.0)})],
)
def test_bayes_predictive_method_and_posterior_track_the_observations(env_id, kwargs):
    env = gym.make(env_id, horizon=12, **kwargs)
    obs, info = env.reset(seed=4)
    np.testing.assert_array_equal(obs, np.zeros(env.observation_space.shape))
    outcomes = []
    for t in range(12):
        action = env.unwrapped.bayes_predictive()
        np.testing.assert_allclose(
            action, predictive_from_posterior(env_id, info["posterior"][None], kwargs.get("noise_std", 1.0))[0],
            rtol=1e-6,
        )
        obs, _, _, _, info = env.step(action.astype(np.float32))
        assert obs[-1] == np.float32((t + 1) / 12)
        if env_id == "MetaDie-v0":
            assert obs[:3].sum() == 1
            outcomes.append(int(np.argmax(obs[:3])))
        else:
            assert obs[1] == 1.0
            outcomes.append(float(obs[0]))
    x = np.array(outcomes)
    posterior = info["posterior"]
    if env_id == "MetaCoin-v0":
        np.testing.assert_array_equal(posterior, [2.0 + x.sum(), 3.0 + 12 - x.sum()])
    elif env_id == "MetaDie-v0":
        np.testing.assert_array_equal(posterior, np.array([1.0, 2.0, 3.0]) + np.bincount(x, minlength=3))
    elif env_id == "MetaGaussian-v0":
        precision = 1 / 2.0**2 + 12 / 0.5**2
        mean = (1.0 / 2.0**2 + x.sum() / 0.5**2) / precision
        np.testing.assert_allclose(posterior, [mean, precision**-0.5], rtol=1e-5)  # x seen in float32
    else:
        np.testing.assert_allclose(posterior, [2.0 + 12, 3.0 + x.sum()], rtol=1e-6)


def corners(space):
    """Every corner of a Box, plus its centre and the smallest positive float32 in each entry."""
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    points = [np.where(np.array(bits, dtype=bool), high, low) for bits in itertools.product((0, 1), repeat=low.size)]
    points.append((low + high) / 2)
    points.append(np.maximum(low, 1e-45))
    return [p.astype(np.float32) for p in points]


@pytest.mark.parametrize("env_id", ["MetaCoin-v0", "MetaDie-v0", "MetaGaussian-v0", "MetaExponential-v0"])
def test_edge_of_the_action_space_earns_a_finite_reward_never_below_the_floor(env_id):
    single = gym.make(env_id)
    envs = gym.make_vec(env_id, num_envs=2000, log_prob_floor=-30.0, vectorization_mode="vector_entry_point")
    for action in corners(single.action_space):
        envs.reset(seed=0)
        with np.errstate(all="raise"):
            for _ in range(HORIZON):
                _, rewards, *_ = envs.step(np.tile(action, (2000, 1)))
                assert np.all(np.isfinite(rewards)) and np.all(rewards >= -30.0)


def test_a_certain_wrong_prediction_earns_exactly_the_floor():
    env = gym.make("MetaCoin-v0", log_prob_floor=-7.5)
    env.reset(seed=0, options={"task": 1.0})  # a coin that always lands 1
    _, reward, *_ = env.step(np.array([0.0], dtype=np.float32))
    assert reward == -7.5
    _, reward, *_ = env.step(np.array([1.0], dtype=np.float32))
    assert reward == 0.0


@pytest.mark.parametrize("name", sorted(COIN_PRIORS))
def test_named_coin_priors_give_the_documented_beta(name):
    a, b = COIN_PRIORS[name]
    envs = gym.make_vec("MetaCoin-v0", num_envs=50_000, prior=name, vectorization_mode="vector_entry_point")
    _, info = envs.reset(seed=0)
    np.testing.assert_array_equal(info["posterior"][0], [a, b])
    assert stats.kstest(info["task"], stats.beta(a, b).cdf).pvalue > 1e-3
    if name == "fair":
        assert info["task"].std() < 0.1 and abs(info["task"].mean() - 0.5) < 0.01
    if name == "bent":
        assert np.mean((info["task"] < 0.1) | (info["task"] > 0.9)) > 0.5


def test_prediction_tasks_match_their_priors():
    n = 50_000

    def tasks(env_id, **kwargs):
        envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
        return envs.reset(seed=1)[1]["task"]

    assert stats.kstest(tasks("MetaGaussian-v0", prior=(2.0, 3.0)), stats.norm(2.0, 3.0).cdf).pvalue > 1e-3
    rates = tasks("MetaExponential-v0", prior=(2.5, 4.0))
    assert stats.kstest(rates, stats.gamma(2.5, scale=1 / 4.0).cdf).pvalue > 1e-3
    faces = tasks("MetaDie-v0", n_outcomes=4, prior=[0.5, 1.0, 2.0, 4.5])
    np.testing.assert_allclose(faces.sum(axis=1), 1.0)
    for k, marginal in enumerate(stats.beta(a, 8.0 - a) for a in [0.5, 1.0, 2.0, 4.5]):  # Dirichlet marginals
        assert stats.kstest(faces[:, k], marginal.cdf).pvalue > 1e-3
