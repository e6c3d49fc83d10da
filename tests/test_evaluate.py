"""Evaluators: common random numbers, replay of the env, gaps, paired comparisons, predictors, KL."""

import math

import gymnasium as gym
import numpy as np
import pytest
from scipy import integrate, special, stats

import meta_envs  # noqa: F401
from bayes.bandits import BayesOptimalPolicy, GreedyPolicy, RandomPolicy, bayes_optimal_value
from bayes.evaluate import PairedComparison, compare_bandit_policies, evaluate_bandit_policy, evaluate_predictor
from bayes.kl import kl_divergence
from bayes.models import BetaBernoulli, DirichletCategorical, GammaExponential, NormalKnownNoise
from bayes.predictors import BayesPredictor


class AlwaysArm:
    """A deterministic user-written state machine (not a BanditPolicy)."""

    def __init__(self, arm, n_arms=2):
        self.arm, self.n_arms = arm, n_arms

    def initial_state(self, batch_size):
        return np.zeros((batch_size, 1))

    def step(self, state, observation):
        probs = np.zeros((len(state), self.n_arms))
        probs[:, self.arm] = 1.0
        return state + 1, probs


def test_evaluation_replays_the_env_episodes_for_the_same_seed():
    result = evaluate_bandit_policy(AlwaysArm(1), horizon=15, n_episodes=500, seed=7)
    envs = gym.make_vec("MetaBandit-v0", num_envs=500, horizon=15, vectorization_mode="vector_entry_point")
    envs.reset(seed=7)
    total = np.zeros(500)
    for _ in range(15):
        total += envs.step(np.ones(500, dtype=np.int64))[1]
    np.testing.assert_array_equal(result.returns, total)


def test_common_random_numbers_make_paired_differences_precise():
    comparison = compare_bandit_policies(BayesOptimalPolicy(2, 20), GreedyPolicy(2), n_episodes=20_000, seed=1)
    unpaired = math.hypot(comparison.a.stderr, comparison.b.stderr)
    assert comparison.stderr < unpaired / 3
    np.testing.assert_array_equal(comparison.a.returns.shape, (20_000,))
    # the exact difference of their values lies within the paired confidence interval
    from bayes.bandits.dp import bernoulli_policy_value

    exact = bayes_optimal_value(2, 20) - bernoulli_policy_value(GreedyPolicy(2), 2, 20)
    assert abs(comparison.mean_difference - exact) < 5 * comparison.stderr


def test_gap_regret_and_curves():
    bayes = evaluate_bandit_policy(BayesOptimalPolicy(2, 20), n_episodes=20_000, seed=0)
    random = evaluate_bandit_policy(RandomPolicy(2), n_episodes=20_000, seed=0)
    v_bayes = bayes_optimal_value(2, 20)
    assert bayes.bayes_optimal_return == pytest.approx(v_bayes)
    assert random.random_return == pytest.approx(10.0)
    spread = v_bayes - 10.0
    assert abs(bayes.bayes_gap) < 5 * bayes.stderr / spread
    assert abs(random.bayes_gap - 1.0) < 5 * random.stderr / spread
    # E[horizon * max(p1, p2)] = 20 * 2/3 for uniform arms
    assert abs(random.bayes_regret - (20 * 2 / 3 - random.mean_return)) < 1e-9 + 5 * random.bayes_regret_stderr
    assert random.regret_curve.shape == (20,)
    np.testing.assert_allclose(random.regret_curve, 1 / 6, atol=5 * random.regret_curve_stderr.max())  # E|p1-p2|/2
    assert bayes.regret_curve[-1] < bayes.regret_curve[0]  # it learns
    assert abs(bayes.regret_curve.sum() - bayes.bayes_regret) < 5 * (bayes.bayes_regret_stderr + 0.01)
    summary = bayes.as_dict()
    assert "returns" not in summary and isinstance(summary["regret_curve"], list)


def test_gaussian_arms():
    result = evaluate_bandit_policy(
        RandomPolicy(2), arms="gaussian", prior=(1.0, 2.0), noise_std=0.5, n_episodes=20_000
    )
    assert result.bayes_gap is None and result.bayes_optimal_return is None
    assert abs(result.mean_return - 20.0) < 5 * result.stderr
    # E[max of two N(1, 4)] = 1 + 2 / sqrt(pi)
    assert abs(result.bayes_regret - 20 * 2 / math.sqrt(math.pi)) < 5 * result.bayes_regret_stderr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, "horizon"),
        ({"n_episodes": 1}, "n_episodes"),
        ({"seed": -1}, "seed"),
        ({"arms": "poisson"}, "arms"),
        ({"prior": (0.0, 1.0)}, "prior"),
        ({"n_arms": 0}, "n_arms"),
        ({"arms": "gaussian", "noise_std": [1.0, 2.0, 3.0]}, "noise_std"),
        ({"arms": "gaussian", "noise_std": 0.0}, "noise_std"),
        ({"arms": "gaussian", "prior": "wide"}, "prior"),
        ({"arms": "gaussian", "prior": [[0, 1]] * 3}, "prior"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate_bandit_policy(RandomPolicy(2), **kwargs)


def test_a_policy_with_a_wrong_output_is_refused():
    class Broken(AlwaysArm):
        def step(self, state, observation):
            return state, np.ones((len(state), 3))

    with pytest.raises(ValueError, match="action probabilities"):
        evaluate_bandit_policy(Broken(0), n_episodes=10)


# ---------------------------------------------------------------------------- predictors

MODELS = [BetaBernoulli(2.0, 3.0), DirichletCategorical([0.5, 1.0, 2.0]), NormalKnownNoise(1.0, 2.0, 0.5),
          GammaExponential(3.0, 2.0)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.family)
def test_bayes_predictor_has_zero_kl_and_the_bayes_log_loss(model):
    result = evaluate_predictor(BayesPredictor(model), model, horizon=10, n_episodes=5_000, seed=0)
    np.testing.assert_allclose(result.kl, 0.0, atol=1e-9)
    np.testing.assert_array_equal(result.log_loss, result.bayes_log_loss)


def test_bayes_predictor_log_loss_matches_the_closed_form_coin():
    model = BetaBernoulli(2.0, 3.0)
    result = evaluate_predictor(BayesPredictor(model), model, horizon=10, n_episodes=40_000, seed=1)
    s = np.arange(11)
    expected = -np.sum(stats.betabinom.pmf(s, 10, 2, 3) * (special.betaln(2 + s, 3 + 10 - s) - special.betaln(2, 3)))
    assert result.total_log_loss == pytest.approx(result.log_loss.sum())
    assert abs(result.total_log_loss - expected) < 5 * result.total_log_loss_stderr


class PriorOnly:
    """Predicts with the prior predictive forever: never learns."""

    def __init__(self, model):
        self.model = model

    def initial_state(self, batch_size):
        return np.zeros((batch_size, 1))

    def step(self, state, observation):
        return state, np.tile(self.model.prior_predictive(), (len(state), 1))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.family)
def test_a_predictor_that_does_not_learn_has_positive_kl(model):
    result = evaluate_predictor(PriorOnly(model), model, horizon=10, n_episodes=2_000, seed=0)
    assert result.kl[0] == pytest.approx(0.0, abs=1e-9)  # before any outcome both predict the prior
    assert np.all(result.kl[1:] > 0) and result.mean_kl > 0
    assert np.all(result.log_loss[1:] > result.bayes_log_loss[1:] - 5 * result.log_loss_stderr[1:])


def test_predictor_reads_the_env_observations():
    env = gym.make("MetaDie-v0", prior=[0.5, 1.0, 2.0], horizon=6)
    predictor = BayesPredictor(DirichletCategorical([0.5, 1.0, 2.0]))
    obs, _ = env.reset(seed=3)
    state = predictor.initial_state(1)
    for _ in range(6):
        state, output = predictor.step(state, obs[None])
        np.testing.assert_allclose(output[0], env.unwrapped.bayes_predictive())
        obs, *_ = env.step(output[0].astype(np.float32))


# ----------------------------------------------------------------------------------- KL


def test_kl_against_numerical_integration():
    normal = NormalKnownNoise()
    p, q = np.array([[0.3, 1.2]]), np.array([[-0.5, 0.7]])
    numeric = integrate.quad(
        lambda x: stats.norm.pdf(x, 0.3, 1.2) * (stats.norm.logpdf(x, 0.3, 1.2) - stats.norm.logpdf(x, -0.5, 0.7)),
        -30, 30,
    )[0]
    assert kl_divergence(normal, p, q)[0] == pytest.approx(numeric, rel=1e-8)
    lomax = GammaExponential()
    for (a_p, b_p), (a_q, b_q) in [((3.0, 2.0), (1.5, 4.0)), ((20.0, 7.0), (2.0, 0.5)), ((1.2, 0.3), (1.2, 0.3))]:
        p_dist, q_dist = stats.lomax(a_p, scale=b_p), stats.lomax(a_q, scale=b_q)

        def integrand(x, p_dist=p_dist, q_dist=q_dist):
            return p_dist.pdf(x) * (p_dist.logpdf(x) - q_dist.logpdf(x))

        numeric = integrate.quad(integrand, 0, np.inf, limit=500, epsabs=1e-13)[0]
        got = kl_divergence(lomax, np.array([[a_p, b_p]]), np.array([[a_q, b_q]]))[0]
        assert got == pytest.approx(numeric, abs=1e-9)
    coin = BetaBernoulli()
    assert kl_divergence(coin, np.array([[0.3]]), np.array([[0.6]]))[0] == pytest.approx(
        0.3 * math.log(0.3 / 0.6) + 0.7 * math.log(0.7 / 0.4)
    )
    assert kl_divergence(coin, np.array([[0.0]]), np.array([[0.0]]))[0] == 0.0
    assert kl_divergence(coin, np.array([[0.5]]), np.array([[0.0]]))[0] == np.inf
    die = DirichletCategorical()
    assert kl_divergence(die, np.array([[0.2, 0.3, 0.5]]), np.array([[2.0, 3.0, 5.0]]))[0] == pytest.approx(0.0)
    assert kl_divergence(die, np.array([[0.2, 0.3, 0.5]]), np.array([[0.0, 0.5, 0.5]]))[0] == np.inf
    with pytest.raises(ValueError, match="shape"):
        kl_divergence(die, np.ones((2, 3)), np.ones((2, 2)))


def test_cumulative_regret_stderr_is_that_of_per_episode_sums():
    """Always pulling arm 0 of two: the pseudo-regret after t steps is t * max(p1 - p0, 0) per episode."""

    class ArmZero:
        def initial_state(self, batch_size):
            return np.zeros((batch_size, 1))

        def step(self, state, observation):
            return state, np.tile([1.0, 0.0], (len(state), 1))

    result = evaluate_bandit_policy(ArmZero(), 2, 10, n_episodes=3000, seed=2)
    task = BetaBernoulli(np.ones(2), np.ones(2)).sample_task(np.random.default_rng(2), 3000)  # the env's arms
    gap = np.maximum(task[:, 1] - task[:, 0], 0.0)
    expected = np.array([(t * gap).std(ddof=1) / np.sqrt(3000) for t in range(1, 11)])
    np.testing.assert_allclose(result.cumulative_regret_stderr, expected, rtol=1e-10)
    np.testing.assert_allclose(result.regret_curve, gap.mean(), rtol=1e-10)


def test_paired_comparison_of_two_evaluations_of_the_same_episodes():
    greedy = evaluate_bandit_policy(GreedyPolicy(2), n_episodes=500, seed=4)
    random = evaluate_bandit_policy(RandomPolicy(2), n_episodes=500, seed=4)
    pair = PairedComparison.of(greedy, random)
    diff = greedy.returns - random.returns
    assert pair.mean_difference == pytest.approx(diff.mean(), abs=1e-12)
    assert pair.stderr == pytest.approx(diff.std(ddof=1) / math.sqrt(500), abs=1e-12)
    both = compare_bandit_policies(GreedyPolicy(2), RandomPolicy(2), n_episodes=500, seed=4)
    assert (both.mean_difference, both.stderr) == (pair.mean_difference, pair.stderr)
    with pytest.raises(ValueError, match="same episodes"):
        PairedComparison.of(greedy, evaluate_bandit_policy(RandomPolicy(2), n_episodes=300, seed=4))
