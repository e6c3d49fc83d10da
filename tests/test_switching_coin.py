"""The switching coin (``MetaSwitchingCoin-v0``, :mod:`bayes.switching`) against independent truth.

The reference is exact rational arithmetic (``fractions.Fraction``): every outcome sequence of up
to 7 flips and every placement of change points (a change before flip ``t = 2 .. n`` with
probability ``hazard`` each; one before flip 1 is immaterial), with the Beta-binomial sequence
probability of each segment. From it: the predictive of every prefix, the log marginal
likelihood of every sequence and the run-length posterior.
"""

import itertools
import math
import warnings
from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import meta_envs
from bayes.evaluate import evaluate_predictor, prediction_observation
from bayes.kl import kl_divergence
from bayes.models import BetaBernoulli
from bayes.predictors import BayesPredictor
from bayes.simulation import run_machine, simulation_analysis
from bayes.switching import SwitchingBetaBernoulli, check_hazard
from meta_envs.switching_coin import MetaSwitchingCoinEnv, MetaSwitchingCoinVectorEnv
from meta_envs.wrappers import NormalizedPrediction

gym.register_envs(meta_envs)

TOL = 1e-12
LENGTH = 7  # every sequence of up to 7 flips

#: (alpha, beta, hazard): floats whose exact binary values the references use
CASES = [(1.0, 1.0, 0.1), (0.5, 2.0, 0.3), (0.2, 0.2, 0.0), (2.0, 3.0, 1.0), (1.5, 0.25, 0.75), (20.0, 20.0, 0.05)]


# ----------------------------------------------------------------------- brute force


def segment_probability(a, b, flips):
    """P(flips) for one segment: a Beta(a, b) bias drawn once, Bernoulli flips (Beta-binomial sequence)."""
    p, ones, zeros = Fraction(1), 0, 0
    for x in flips:
        total = a + b + ones + zeros
        if x:
            p *= (a + ones) / total
            ones += 1
        else:
            p *= (b + zeros) / total
            zeros += 1
    return p


def enumerate_changes(a, b, h, flips):
    """``{run length after the last flip: P(run length, flips)}`` summed over every placement of change points."""
    n = len(flips)
    by_run_length: dict[int, Fraction] = {}
    for changes in itertools.product((0, 1), repeat=n - 1):  # changes[i]: a change before flip i + 2
        p, start = Fraction(1), 0
        for i, change in enumerate(changes):
            p *= h if change else 1 - h
            if change:
                p *= segment_probability(a, b, flips[start : i + 1])
                start = i + 1
        p *= segment_probability(a, b, flips[start:])
        by_run_length[n - start] = by_run_length.get(n - start, Fraction(0)) + p
    return by_run_length


@pytest.fixture(scope="module", params=CASES, ids=[f"a{a}-b{b}-h{h}" for a, b, h in CASES])
def reference(request):
    """The case, and for every sequence of 1..LENGTH flips its run-length joint probabilities."""
    a, b, h = request.param
    exact = (Fraction(a), Fraction(b), Fraction(h))
    joints = {(): {0: Fraction(1)}}
    for n in range(1, LENGTH + 1):
        for flips in itertools.product((0, 1), repeat=n):
            joints[flips] = enumerate_changes(*exact, flips)
    return request.param, joints


def marginal(joints, flips):
    return sum(joints[tuple(flips)].values())


def test_predictive_of_every_prefix_equals_brute_force(reference):
    (a, b, h), joints = reference
    model = SwitchingBetaBernoulli(a, b, h, LENGTH)
    sequences = np.array(list(itertools.product((0, 1), repeat=LENGTH)), dtype=np.float64)
    stats = model.initial_stats(len(sequences))
    worst = 0.0
    for t in range(LENGTH):
        predictive = model.predictive(stats)[:, 0]
        for row, flips in enumerate(sequences.astype(int).tolist()):
            prefix = tuple(flips[:t])
            expected = marginal(joints, (*prefix, 1)) / marginal(joints, prefix)
            worst = max(worst, abs(float(expected) - predictive[row]))
        stats = model.update(stats, sequences[:, t])
    assert worst <= TOL, worst


def test_run_length_posterior_equals_brute_force(reference):
    (a, b, h), joints = reference
    model = SwitchingBetaBernoulli(a, b, h, LENGTH)
    sequences = np.array(list(itertools.product((0, 1), repeat=LENGTH)), dtype=np.float64)
    stats = model.initial_stats(len(sequences))
    for t in range(1, LENGTH + 1):
        stats = model.update(stats, sequences[:, t - 1])
        posterior = model.posterior(stats)  # (B, T + 1, 3)
        for row, flips in enumerate(sequences.astype(int).tolist()):
            prefix = tuple(flips[:t])
            joint, total = joints[prefix], marginal(joints, prefix)
            for r in range(LENGTH + 1):
                expected = float(joint.get(r, Fraction(0)) / total)
                assert abs(posterior[row, r, 0] - expected) <= TOL, (prefix, r)
                ones = sum(prefix[t - r :]) if r <= t else sum(prefix)  # windows beyond t hold all flips
                assert posterior[row, r, 1] == a + ones and posterior[row, r, 2] == b + r - ones


def test_log_marginal_likelihood_equals_brute_force(reference):
    (a, b, h), joints = reference
    model = SwitchingBetaBernoulli(a, b, h, 3)  # shorter than the sequences: sized by for_horizon
    worst = 0.0
    for n in range(1, LENGTH + 1):
        sequences = list(itertools.product((0, 1), repeat=n))
        got = model.log_marginal_likelihood(np.array(sequences, dtype=np.float64))
        for row, flips in enumerate(sequences):
            p = marginal(joints, flips)
            expected = math.log(p.numerator) - math.log(p.denominator)
            worst = max(worst, abs(got[row] - expected))
    assert worst <= TOL, worst
    assert isinstance(model.log_marginal_likelihood([1, 0, 1]), float)


# ------------------------------------------------------------------ the two extremes


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (0.2, 0.2), (20.0, 20.0), (2.0, 5.0)])
def test_hazard_zero_is_the_beta_bernoulli_predictor(a, b):
    horizon = 40
    rng = np.random.default_rng(0)
    x = (rng.random((64, horizon)) < rng.random((64, 1))).astype(np.float64)
    switching, plain = SwitchingBetaBernoulli(a, b, 0.0, horizon), BetaBernoulli(a, b)
    stats, counts = switching.initial_stats(64), plain.initial_stats(64)
    for t in range(horizon):
        np.testing.assert_allclose(switching.predictive(stats), plain.predictive(counts), rtol=0, atol=TOL)
        mean, std = switching.posterior_moments(stats)
        plain_mean, plain_std = plain.posterior_moments(counts)
        np.testing.assert_allclose(mean, plain_mean, atol=TOL)
        np.testing.assert_allclose(std, plain_std, atol=1e-9)
        stats, counts = switching.update(stats, x[:, t]), plain.update(counts, x[:, t])
        posterior = switching.posterior(stats)
        np.testing.assert_array_equal(posterior[:, t + 1, 0], 1.0)  # the run is the whole episode
        np.testing.assert_allclose(posterior[:, t + 1, 1:], plain.posterior(counts), rtol=1e-15, atol=TOL)


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (0.2, 3.0)])
def test_hazard_one_is_the_prior_predictive_at_every_step(a, b):
    model = SwitchingBetaBernoulli(a, b, 1.0, 5)
    rng = np.random.default_rng(1)
    stats = model.initial_stats(16)
    for _ in range(12):  # more outcomes than max_run_length: the run length never exceeds 1
        np.testing.assert_array_equal(model.predictive(stats)[:, 0], a / (a + b))
        stats = model.update(stats, (rng.random(16) < 0.5).astype(np.float64))
        assert np.all(model.posterior(stats)[:, 1, 0] == 1.0)


# ------------------------------------------------------------------ the model itself


def test_statistics_are_probabilities_and_windows():
    model = SwitchingBetaBernoulli(0.5, 0.5, 0.2, 30)
    rng = np.random.default_rng(2)
    task = model.sample_task(rng, 500)
    stats, ones = model.initial_stats(500), np.zeros(500)
    for t in range(1, 31):
        task = model.evolve(rng, task)
        x = model.sample_outcome(rng, task)
        stats = model.update(stats, x)
        ones += x
        w, s = stats[:, 0], stats[:, 1]
        assert np.all(w >= 0) and np.allclose(w.sum(axis=1), 1.0, atol=1e-12)
        assert np.all(w[:, 0] == 0) and np.all(w[:, t + 1 :] == 0)
        assert np.all(s[:, t + 1 :] == ones[:, None]) and np.all(s <= np.arange(31)) and np.all(s >= 0)
    with pytest.raises(ValueError, match="max_run_length"):
        model.update(stats, x)  # a 31st outcome does not fit
    bigger = model.for_horizon(31)
    assert bigger.max_run_length == 31 and model.for_horizon(10) is model


def test_shapes_layout_and_purity():
    model = SwitchingBetaBernoulli(1.0, 2.0, 0.3, 6)
    assert model.stats_shape == (2, 7) and model.posterior_shape == (7, 3) and model.predictive_shape == (1,)
    assert model.task_shape == () and model.batch_shape == () and model.family == "switching-beta-bernoulli"
    stats = model.initial_stats(3)
    assert stats.shape == (3, 2, 7) and np.all(stats[:, 0, 0] == 1) and stats[:, 0, 1:].sum() == 0
    before = stats.copy()
    after = model.update(stats, np.array([1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(stats, before)  # the input is not changed
    # any memory layout: a C-ordered copy gives the same answers
    c_ordered = np.ascontiguousarray(after)
    np.testing.assert_array_equal(model.update(c_ordered, np.ones(3)), model.update(after, np.ones(3)))
    np.testing.assert_array_equal(model.posterior(c_ordered), model.posterior(after))
    np.testing.assert_array_equal(model.prior_predictive(), [1.0 / 3.0])
    with pytest.raises(ValueError, match="0 or 1"):
        model.update(after, np.array([0.5, 1.0, 0.0]))
    with pytest.raises(ValueError, match="stats"):
        model.update(np.zeros((3, 2, 5)), np.ones(3))
    with pytest.raises(ValueError, match="arm"):
        model.update(after, np.ones(3), arm=np.zeros(3, dtype=int))
    assert "hazard=0.3" in repr(model) and float(model.hyperparameters()["hazard"]) == 0.3
    assert model.update(model.initial_stats(0), np.zeros(0)).shape == (0, 2, 7)


def test_posterior_moments_are_the_mixtures():
    model = SwitchingBetaBernoulli(2.0, 3.0, 0.25, 8)
    rng = np.random.default_rng(3)
    stats = model.initial_stats(50)
    for _ in range(8):
        stats = model.update(stats, (rng.random(50) < 0.7).astype(np.float64))
    post = model.posterior(stats)
    w, a, b = post[..., 0], post[..., 1], post[..., 2]
    mean = (w * a / (a + b)).sum(axis=1)
    second = (w * a * (a + 1) / ((a + b) * (a + b + 1))).sum(axis=1)
    got_mean, got_std = model.posterior_moments(stats)
    np.testing.assert_allclose(got_mean, mean, atol=TOL)
    np.testing.assert_allclose(got_std, np.sqrt(second - mean**2), atol=1e-9)


def test_evolve_changes_at_the_hazard_rate_and_redraws_from_the_prior():
    model = SwitchingBetaBernoulli(2.0, 5.0, 0.3, 5)
    rng = np.random.default_rng(4)
    n = 200_000
    task = model.sample_task(rng, n)
    new = model.evolve(rng, task)
    changed = new != task
    rate, se = changed.mean(), math.sqrt(0.3 * 0.7 / n)
    assert abs(rate - 0.3) <= 5 * se, rate
    drawn = new[changed]  # Beta(2, 5): mean 2/7, variance 10 / (49 * 8)
    assert abs(drawn.mean() - 2 / 7) <= 5 * math.sqrt(10 / 392 / drawn.size)
    np.testing.assert_array_equal(SwitchingBetaBernoulli(1.0, 1.0, 0.0, 5).evolve(rng, task), task)


# --------------------------------------------------------------------------- the env


@pytest.mark.parametrize(
    "kwargs", [{}, {"hazard": 0.0}, {"hazard": 1.0}, {"horizon": 3, "prior": "fair", "hazard": 0.5}]
)
def test_env_passes_gymnasiums_checker(kwargs):
    env = gym.make("MetaSwitchingCoin-v0", **kwargs)
    assert isinstance(env.unwrapped, MetaSwitchingCoinEnv)
    check_env(env.unwrapped, skip_render_check=False)


def test_vector_env_replays_the_single_env_and_info_is_the_bayes_predictor():
    kwargs = {"horizon": 8, "prior": (0.5, 1.5), "hazard": 0.3}
    single = gym.make("MetaSwitchingCoin-v0", **kwargs)
    vector = gym.make_vec("MetaSwitchingCoin-v0", num_envs=1, vectorization_mode="vector_entry_point", **kwargs)
    assert isinstance(vector.unwrapped, MetaSwitchingCoinVectorEnv)
    model = single.unwrapped.model
    bayes = BayesPredictor(model)
    obs_s, info_s = single.reset(seed=5)
    obs_v, info_v = vector.reset(seed=5)
    state = bayes.initial_state(1)
    for episode in range(3):
        for t in range(8):
            np.testing.assert_array_equal(obs_v[0], obs_s)
            np.testing.assert_array_equal(info_v["task"][0], info_s["task"])
            np.testing.assert_array_equal(info_v["posterior"][0], info_s["posterior"])
            state, action = bayes.step(state, obs_s[None].astype(np.float64))
            np.testing.assert_allclose(action[0], single.unwrapped.bayes_predictive(), atol=TOL)
            np.testing.assert_allclose(model.posterior(state.reshape(1, *model.stats_shape))[0],
                                       info_s["posterior"], atol=TOL)
            obs_s, reward, terminated, _, info_s = single.step(action[0].astype(np.float32))
            obs_v, rewards, _, _, info_v = vector.step(action.astype(np.float32))
            assert rewards[0] == reward and terminated == (t == 7)
        if episode < 2:
            obs_s, info_s = single.reset()
            obs_v, _, _, _, info_v = vector.step(np.zeros((1, 1), dtype=np.float32))  # NEXT_STEP autoreset
            state = bayes.initial_state(1)


def test_rows_of_the_vector_env_are_independent_after_partial_resets():
    """Each row's info["posterior"] is the Bayes predictor's on that row's own observations,
    whatever the other rows do (partial resets desynchronise them)."""
    envs = gym.make_vec("MetaSwitchingCoin-v0", num_envs=5, vectorization_mode="vector_entry_point",
                        horizon=10, hazard=0.2, autoreset_mode="Disabled")
    model = envs.unwrapped.model
    bayes = BayesPredictor(model)
    obs, info = envs.reset(seed=6)
    states = bayes.initial_state(5)  # the reset observation (all zeros) changes nothing
    rng = np.random.default_rng(6)
    ended = np.zeros(5, dtype=bool)
    for step in range(40):
        if ended.any() or step in (3, 7, 12):
            mask = ended | (np.arange(5) == step % 5)
            obs, info = envs.reset(options={"reset_mask": mask})
            states[mask] = bayes.initial_state(int(mask.sum()))
            ended[mask] = False
        else:
            obs, _, terminated, _, info = envs.step(rng.random((5, 1)).astype(np.float32))
            states = bayes.step(states, obs.astype(np.float64))[0]
            ended |= terminated
        expected = model.posterior(states.reshape(5, *model.stats_shape))
        np.testing.assert_allclose(info["posterior"], expected, rtol=0, atol=TOL)


def test_hazard_zero_env_is_meta_coin_with_the_same_stream():
    coin = gym.make("MetaCoin-v0", horizon=6)
    switching = gym.make("MetaSwitchingCoin-v0", horizon=6, hazard=0.0)
    coin.reset(seed=7)
    switching.reset(seed=7)
    for t in range(6):
        action = np.array([0.1 + 0.1 * t], dtype=np.float32)
        a, b = coin.step(action), switching.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1] and a[4]["task"] == b[4]["task"]


def test_the_task_in_the_env_changes_at_the_hazard_rate():
    n, horizon, hazard = 4000, 20, 0.15
    envs = gym.make_vec("MetaSwitchingCoin-v0", num_envs=n, vectorization_mode="vector_entry_point",
                        horizon=horizon, hazard=hazard)
    _, info = envs.reset(seed=8)
    changes, previous = 0, info["task"].copy()
    for _ in range(horizon):
        _, _, _, _, info = envs.step(np.full((n, 1), 0.5, dtype=np.float32))
        changes += int(np.count_nonzero(info["task"] != previous))  # a fresh draw equals the old one w.p. 0
        previous = info["task"].copy()
    trials = n * horizon
    rate = changes / trials
    assert abs(rate - hazard) <= 5 * math.sqrt(hazard * (1 - hazard) / trials), rate


@pytest.mark.parametrize("bad", [-0.1, 1.1, -1e-300, float("nan"), float("inf"), True, False, "0.1", None, [0.1],
                                 np.array([0.1, 0.2]), 1 + 1e-12])
def test_bad_hazard_is_refused_naming_it(bad):
    for make in (lambda: gym.make("MetaSwitchingCoin-v0", hazard=bad),
                 lambda: gym.make_vec("MetaSwitchingCoin-v0", num_envs=2, hazard=bad),
                 lambda: SwitchingBetaBernoulli(1.0, 1.0, bad, 5)):
        with pytest.raises(ValueError, match="hazard") as error:
            make()
        assert "\n" not in str(error.value)


def test_good_hazards_are_accepted():
    for good in (0, 1, 0.0, 1.0, 0.5, np.float32(0.25), np.int64(1), np.array(0.3), 5e-324):
        assert check_hazard(good) == float(good)


def test_other_bad_arguments_are_refused_before_any_work():
    with pytest.raises(ValueError, match="horizon"):
        gym.make("MetaSwitchingCoin-v0", horizon=0)
    with pytest.raises(ValueError, match="prior"):
        gym.make("MetaSwitchingCoin-v0", prior="loaded")
    with pytest.raises(ValueError, match="log_prob_floor"):
        gym.make("MetaSwitchingCoin-v0", log_prob_floor=1.0)
    with pytest.raises(ValueError, match="alpha and beta"):
        SwitchingBetaBernoulli([1.0, 2.0], 1.0, 0.1, 5)


def test_rendering_and_the_normalized_wrapper():
    env = gym.make("MetaSwitchingCoin-v0", render_mode="rgb_array", horizon=5)
    env.reset(seed=0)
    env.step(np.array([0.5], dtype=np.float32))
    frame = env.render()
    assert frame.shape == (256, 256, 3) and (frame != 255).any()
    text = gym.make("MetaSwitchingCoin-v0", render_mode="ansi", horizon=5)
    text.reset(seed=0)
    text.step(np.array([0.5], dtype=np.float32))
    assert "t=1/5" in text.render()
    wrapped = NormalizedPrediction(gym.make("MetaSwitchingCoin-v0", horizon=5))
    wrapped.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(5):
            action = wrapped.bayes_action()
            assert np.all(np.abs(action) < 1)
            wrapped.step(action)


# ------------------------------------------------------------ evaluators and analysis


def test_evaluate_predictor_gives_the_bayes_predictor_zero_kl():
    model = SwitchingBetaBernoulli(1.0, 1.0, 0.2, 12)
    result = evaluate_predictor(BayesPredictor(model), model, horizon=12, n_episodes=500, seed=0)
    assert result.mean_kl <= 1e-12
    np.testing.assert_allclose(result.log_loss, result.bayes_log_loss, atol=1e-12)
    # the evaluator sizes the model for its horizon, and the plain coin's predictor is worse
    plain = evaluate_predictor(BayesPredictor(BetaBernoulli(1.0, 1.0)), SwitchingBetaBernoulli(1.0, 1.0, 0.2, 5),
                               horizon=12, n_episodes=500, seed=0)
    assert plain.mean_kl > 0.01


def test_simulation_analysis_runs_with_the_switching_bayes_predictor():
    model = SwitchingBetaBernoulli(1.0, 1.0, 0.2, 8)
    bayes, plain = BayesPredictor(model), BayesPredictor(BetaBernoulli(1.0, 1.0))
    rng = np.random.default_rng(9)
    task = model.sample_task(rng, 60)
    outcomes = []
    for _ in range(7):
        task = model.evolve(rng, task)
        outcomes.append(model.sample_outcome(rng, task))
    observed = [prediction_observation(model, x, t + 1, 8) for t, x in enumerate(outcomes)]
    inputs = np.stack([np.zeros((60, 3)), *observed])
    states, outputs = run_machine(bayes, inputs)
    assert states.shape == (9, 60, 18) and outputs.shape == (8, 60, 1)

    class Linear:
        def fit(self, x, y):
            self.coef = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)[0]

        def predict(self, x):
            return np.c_[x, np.ones(len(x))] @ self.coef

    result = simulation_analysis(bayes, plain, inputs, divergence=lambda p, q: kl_divergence(model, p, q),
                                 regressor=Linear)
    for direction in (result.b_simulates_a, result.a_simulates_b):
        assert np.isfinite(direction.state_dissimilarity) and np.isfinite(direction.output_dissimilarity)


def test_project_state_gives_states_that_step():
    model = SwitchingBetaBernoulli(1.0, 1.0, 0.1, 4)
    bayes = BayesPredictor(model)
    rng = np.random.default_rng(10)
    wild = rng.normal(0.0, 3.0, (20, bayes.state_size))
    wild[0, :5] = 0.0
    wild[1, 2] = np.nan
    projected = bayes.project_state(wild).reshape(20, 2, 5)
    w, s = projected[:, 0], projected[:, 1]
    assert np.all(w >= 0) and np.allclose(w.sum(axis=1), 1.0) and np.all(w[:, -1] == 0)
    assert np.all(w[0] == [1, 0, 0, 0, 0])  # no mass anywhere: the prior
    assert np.all((s >= 0) & (s <= np.arange(5)))
    bayes.step(projected.reshape(20, -1), np.tile([1.0, 1.0, 0.5], (20, 1)))  # one more outcome fits
